"""Release truth on the fakes: a rolled-out release is watched before it succeeds, a
crash, an OOM kill or lost readiness fails it, and the release it replaced comes back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from strawberry.relay import from_base64, to_base64

from home_idp.plugins.support.log_excerpt import HIDDEN_LOG_LINES
from home_idp.server.apps.models import App, AppSecret
from home_idp.server.pipeline.models import Job, Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.rbac.models import AuditEvent, Membership, Policy, PolicyEffect, Project, Role
from tests.deploy.flow import wait_for_release
from tests.factories import Factory, Person
from tests.fakes.server import FakeServer
from tests.graphql import GraphQLClient

DOCKERFILE = 'FROM busybox\nCOPY . /app\nCMD ["/app/run"]\n'
ERRORS = "... on Error { message } ... on ValidationError { fieldErrors { field message } }"
SAVE = f"""mutation($input: SaveDockerfileInput!) {{
  saveDockerfile(input: $input) {{ __typename ... on SaveDockerfileSuccess {{ release {{ id }} }} {ERRORS} }}
}}"""
UPDATE_APP = f"""mutation($input: UpdateAppInput!) {{
  updateApp(input: $input) {{
    __typename ... on AppSuccess {{ app {{ stabilitySeconds autoRollback }} }} {ERRORS}
  }}
}}"""
SET_SECRET = f"""mutation($input: SetAppSecretInput!) {{
  setAppSecret(input: $input) {{ __typename {ERRORS} }}
}}"""
RELEASE = """query($id: ID!) { node(id: $id) { ... on Release {
  number status error verifyUntil isLive trigger createdBy
  rolledBackBy { number status trigger createdBy isLive }
} } }"""
APP = "query($id: ID!) { node(id: $id) { ... on App { stabilitySeconds autoRollback } } }"
# Generous: the fast tier shares a loaded machine.
WAIT = 60


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until `check()` holds (what the engine does runs in the background)."""
    async with asyncio.timeout(WAIT):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


class Watched:
    """One developer's app on the fakes, with a watch after each rollout."""

    def __init__(self, server: FakeServer, dev: Person, app: App, project: str) -> None:
        self.server = server
        self.deployer = server.plugins.deployer
        self.dev = dev
        self.app = app
        self.project = project
        self.gql = GraphQLClient(server.http)
        self.gid = to_base64("App", app.id)

    @classmethod
    async def open(cls, server: FakeServer, project: str) -> Watched:
        factory = Factory(server.runtime)
        dev = await factory.user("dev")
        owner = await factory.project(project, dev="developer")
        app = await App.create(project=owner, name="web", source_repo="http://127.0.0.1:9/w.git")
        return cls(server, dev, app, project)

    async def update(self, **fields: Any) -> dict[str, Any]:
        answer = await self.gql(
            UPDATE_APP, {"input": {"id": self.gid, **fields}}, token=self.dev.token
        )
        payload: dict[str, Any] = answer["updateApp"]
        return payload

    async def start_release(self, note: str) -> int:
        content = f"{DOCKERFILE}LABEL note={note}\n"
        answer = await self.gql(
            SAVE,
            {"input": {"app": self.gid, "content": content, "message": note}},
            token=self.dev.token,
        )
        payload = answer["saveDockerfile"]
        assert payload["__typename"] == "SaveDockerfileSuccess", payload
        return int(from_base64(payload["release"]["id"])[1])

    async def released(self, note: str) -> Release:
        """A release that ran to its end (the watch included)."""
        return await wait_for_release(await self.start_release(note), WAIT)

    async def watching(self, release_id: int) -> None:
        """Wait until the release's watch runs (it is live and rolled out)."""
        async with asyncio.timeout(WAIT):
            while True:
                if await ReleaseStep.exists(
                    release_id=release_id, name="verify", state=StepState.WAITING
                ):
                    return
                await asyncio.sleep(0.05)

    async def set_secret(self, name: str, value: str) -> None:
        answer = await self.gql(
            SET_SECRET,
            {"input": {"app": self.gid, "name": name, "value": value}},
            token=self.dev.token,
        )
        assert answer["setAppSecret"]["__typename"] == "AppSuccess", answer

    async def shown(self, release_id: int) -> dict[str, Any]:
        answer = await self.gql(
            RELEASE, {"id": to_base64("Release", release_id)}, token=self.dev.token
        )
        node: dict[str, Any] = answer["node"]
        return node


async def test_a_release_is_watched_before_it_succeeds(server: FakeServer) -> None:
    shop = await Watched.open(server, "watched")
    assert (await shop.update(stabilitySeconds=1))["app"]["stabilitySeconds"] == 1

    release = await shop.released("first")

    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    shown = await shop.shown(release.id)
    assert shown["verifyUntil"] is not None and shown["rolledBackBy"] is None
    assert shown["isLive"] is True
    verify = await ReleaseStep.get(release_id=release.id, name="verify")
    assert verify.detail["watched_seconds"] == 1


async def test_no_watch_when_the_window_is_zero(server: FakeServer) -> None:
    shop = await Watched.open(server, "unwatched")
    await shop.update(stabilitySeconds=0)

    release = await shop.released("first")

    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    assert (await shop.shown(release.id))["verifyUntil"] is None


async def test_a_crash_in_the_watch_fails_the_release_with_its_exit_code_and_masked_logs(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "crashy")
    await shop.update(stabilitySeconds=60)
    await shop.set_secret("API_KEY", "hunter2-very-secret")
    release_id = await shop.start_release("first")
    await shop.watching(release_id)
    assert (await Release.get(id=release_id)).status is ReleaseStatus.RUNNING
    assert (await shop.shown(release_id))["verifyUntil"] is not None

    await shop.deployer.write_log("crashy", "web", "connecting with hunter2-very-secret")
    await shop.deployer.crash("crashy", "web", 3, restart=False)
    release = await wait_for_release(release_id, WAIT)

    assert release.status is ReleaseStatus.FAILED
    assert "exit code 3" in (release.error or ""), release.error
    assert "connecting with ****" in (release.error or ""), release.error
    assert "hunter2" not in (release.error or "")
    # Nothing to roll back to (the first release): nothing claims to serve.
    assert release.rolled_back_by_id is None
    assert "keeps serving" not in (release.error or "")
    await _discarded(shop, release.number)
    assert not await shop.deployer.list_running("crashy")


async def test_a_failed_watch_rolls_back_to_the_release_it_replaced(server: FakeServer) -> None:
    shop = await Watched.open(server, "rolls")
    await shop.update(stabilitySeconds=1)
    first = await shop.released("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    # The rollback is watched too, as long.
    await shop.update(stabilitySeconds=10)

    second_id = await shop.start_release("second")
    await shop.watching(second_id)
    await shop.deployer.run_out_of_memory("rolls", "web")
    second = await wait_for_release(second_id, WAIT)

    assert second.status is ReleaseStatus.FAILED
    assert "out of memory" in (second.error or ""), second.error
    assert "rolls back to #1" in (second.error or ""), second.error
    rollback = await wait_for_release(second.rolled_back_by_id or 0, WAIT)
    assert rollback.status is ReleaseStatus.SUCCEEDED, rollback.error
    shown = await shop.shown(second.id)
    assert shown["rolledBackBy"] == {
        "number": 3,
        "status": "SUCCEEDED",
        "trigger": "auto rollback to #1",
        "createdBy": "home-idp",
        "isLive": True,
    }
    # The rollback ships the first release's exact image, and it is what runs.
    assert (rollback.image, rollback.digest) == (first.image, first.digest)
    (running,) = await shop.deployer.list_running("rolls")
    assert running.release == 3 and running.image.endswith(f"@{first.digest}")
    audit = await AuditEvent.get(action="release.auto_rollback")
    assert (audit.actor, audit.detail) == ("home-idp", {"failed": 2, "to": 1, "release": 3})


async def test_lost_readiness_fails_the_watch(server: FakeServer) -> None:
    shop = await Watched.open(server, "unready")
    await shop.update(stabilitySeconds=60, autoRollback=False)
    release_id = await shop.start_release("first")
    await shop.watching(release_id)

    shop.deployer.set_ready("unready", "web", False)
    release = await wait_for_release(release_id, WAIT)

    assert release.status is ReleaseStatus.FAILED
    assert "stopped answering GET /" in (release.error or ""), release.error


async def test_without_auto_rollback_git_gets_the_manifests_from_before(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "manual")
    await shop.update(stabilitySeconds=0)
    first = await shop.released("first")
    assert first.status is ReleaseStatus.SUCCEEDED and first.digest, first.error
    answer = await shop.update(stabilitySeconds=60, autoRollback=False)
    assert answer["app"] == {"stabilitySeconds": 60, "autoRollback": False}

    second_id = await shop.start_release("second")
    await shop.watching(second_id)
    await shop.deployer.crash("manual", "web", 1)
    second = await wait_for_release(second_id, WAIT)

    assert second.status is ReleaseStatus.FAILED
    assert "restarted once (last exit: exit code 1)" in (second.error or ""), second.error
    assert second.rolled_back_by_id is None
    assert await Release.filter(app_id=shop.app.id).count() == 2
    git = server.plugins.git
    path = "projects/manual/apps/web/manifests/deployment.yaml"
    async with asyncio.timeout(WAIT):
        while True:
            head = await git.head()
            shown = await git.read_file(path, head) if head else None
            if shown is not None and first.digest in shown.decode():
                break
            await asyncio.sleep(0.05)
    assert (second.digest or "-") not in shown.decode()

    # What runs follows git: release #1 is deployed again (the kubernetes
    # deployer would otherwise leave the failed Deployment applied) and serves.
    async def first_is_live() -> bool:
        return (await App.get(id=shop.app.id)).live_release_id == first.id

    await until(first_is_live)
    [running] = await shop.deployer.list_running("manual")
    assert (running.release, running.image) == (1, shop.deployer.synced[-1].image)
    assert first.digest in running.image
    assert await Release.filter(app_id=shop.app.id).count() == 2


async def test_a_failed_rollout_rolls_back_and_the_live_release_keeps_serving(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "rollout")
    await shop.update(stabilitySeconds=0)
    first = await shop.released("first")
    shop.deployer.fail_rollout("rollout", "web", "ImagePullBackOff")

    second = await shop.released("second")

    assert second.status is ReleaseStatus.FAILED
    assert "ImagePullBackOff; release #1 keeps serving" in (second.error or ""), second.error
    rollback = await wait_for_release(second.rolled_back_by_id or 0, WAIT)
    assert rollback.status is ReleaseStatus.SUCCEEDED, rollback.error
    assert rollback.trigger == "auto rollback to #1" and rollback.digest == first.digest


async def test_bad_stability_seconds_are_refused_and_change_nothing(server: FakeServer) -> None:
    shop = await Watched.open(server, "bounds")
    await shop.update(stabilitySeconds=30)

    for bad in (-1, 3601, 10**6):
        payload = await shop.update(stabilitySeconds=bad, autoRollback=False)
        assert payload["__typename"] == "ValidationError", payload
        assert [e["field"] for e in payload["fieldErrors"]] == ["stabilitySeconds"]

    answer = await shop.gql(APP, {"id": shop.gid}, token=shop.dev.token)
    assert answer["node"] == {"stabilitySeconds": 30, "autoRollback": True}


async def _discarded(shop: Watched, number: int) -> None:
    """Wait until the failed release's instance was removed (after its failure commits)."""
    async with asyncio.timeout(WAIT):
        while True:
            if (shop.project, "web", number) in shop.deployer.discarded:
                return
            await asyncio.sleep(0.05)


async def test_a_failed_automatic_rollback_is_not_rolled_back_in_turn(server: FakeServer) -> None:
    shop = await Watched.open(server, "loops")
    await shop.update(stabilitySeconds=0)
    await shop.released("first")
    shop.deployer.fail_rollout("loops", "web", "ImagePullBackOff", times=2)

    second = await shop.released("second")
    rollback = await wait_for_release(second.rolled_back_by_id or 0, WAIT)

    assert rollback.status is ReleaseStatus.FAILED, rollback.error
    assert rollback.rolled_back_by_id is None
    await asyncio.sleep(1)  # two reconcile intervals: nothing more starts
    assert await Release.filter(app_id=shop.app.id).count() == 3


async def test_a_watch_overtaken_by_a_newer_release_ends_without_failing_it(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "overtaken")
    await shop.update(stabilitySeconds=0)
    await shop.released("first")
    await shop.update(stabilitySeconds=30)
    second_id = await shop.start_release("second")
    await shop.watching(second_id)
    await shop.update(stabilitySeconds=0)

    third = await shop.released("third")
    second = await wait_for_release(second_id, WAIT)

    assert third.status is ReleaseStatus.SUCCEEDED, third.error
    assert second.status is ReleaseStatus.SUCCEEDED, second.error
    assert second.rolled_back_by_id is None
    verify = await ReleaseStep.get(release_id=second_id, name="verify")
    assert verify.detail["overtaken_by"] == 3
    assert (await App.get(id=shop.app.id)).live_release_id == third.id


async def test_a_release_rolled_back_automatically_cannot_be_retried(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "noretry")
    await shop.update(stabilitySeconds=0)
    await shop.released("first")
    shop.deployer.fail_rollout("noretry", "web", "ImagePullBackOff")
    second = await shop.released("second")
    assert second.rolled_back_by_id is not None

    answer = await shop.gql(
        "mutation($id: ID!) { retryRelease(input: {id: $id}) { __typename "
        "... on Error { message } } }",
        {"id": to_base64("Release", second.id)},
        token=shop.dev.token,
    )
    assert answer["retryRelease"] == {
        "__typename": "Conflict",
        "message": "release #2 was rolled back automatically; "
        "start a new release to try its changes again",
    }
    assert (await Release.get(id=second.id)).status is ReleaseStatus.FAILED


async def test_no_automatic_rollback_to_a_release_whose_secret_is_gone(server: FakeServer) -> None:
    shop = await Watched.open(server, "secretless")
    await shop.update(stabilitySeconds=0)
    await shop.set_secret("API_KEY", "hunter2-very-secret")
    await shop.released("first")
    # Gone behind the API's back: the config release a deletion starts never ran.
    await AppSecret.filter(app_id=shop.app.id, name="API_KEY").delete()
    shop.deployer.fail_rollout("secretless", "web", "ImagePullBackOff")

    second = await shop.released("second")

    assert second.status is ReleaseStatus.FAILED
    assert second.rolled_back_by_id is None
    assert "no rollback to #1: the secret API_KEY no longer exists" in (second.error or "")
    assert await Release.filter(app_id=shop.app.id).count() == 2


async def test_one_slow_answer_to_the_health_check_does_not_fail_the_watch(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "slow")
    await shop.update(stabilitySeconds=4)
    release_id = await shop.start_release("first")
    await shop.watching(release_id)

    # Not answering for less than the reconciler's three looks (0.5 s apart here).
    shop.deployer.set_ready("slow", "web", False)
    await asyncio.sleep(0.6)
    shop.deployer.set_ready("slow", "web", True)
    release = await wait_for_release(release_id, WAIT)

    assert release.status is ReleaseStatus.SUCCEEDED, release.error


async def test_the_clean_up_after_a_failure_is_a_job_that_a_restart_takes_up(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "durable")
    await shop.update(stabilitySeconds=0, autoRollback=False)
    first = await shop.released("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    shop.deployer.fail_rollout("durable", "web", "CrashLoopBackOff")
    second = await shop.released("second")
    assert second.status is ReleaseStatus.FAILED
    rollout = await ReleaseStep.get(release_id=second.id, name="rollout")

    # The failure queued its clean-up, in the queue's table: a worker did it.
    async def cleaned_up() -> bool:
        done = ("durable", "web", second.number) in shop.deployer.discarded
        return done and not await Job.exists(step_id=rollout.id)

    await until(cleaned_up)

    # A server that died in the middle of it left the job leased under its name:
    # once the lease ran out, a worker takes it up and does the clean-up again.
    shop.deployer.discarded.clear()
    await Job.create(
        step=rollout,
        due_at=utcnow(),
        leased_by="a-server-that-died-0",
        lease_until=utcnow() - timedelta(seconds=1),
    )
    await until(cleaned_up)
    # Done twice, it changed nothing more: release #1 serves, no other release began.
    assert (await App.get(id=shop.app.id)).live_release_id == first.id
    assert await Release.filter(app_id=shop.app.id).count() == 2


ERRORS_OF = """query($id: ID!) { node(id: $id) { ... on Release {
  error steps { name error } trace { spans { statusMessage events { name } } }
} } }"""


async def test_the_last_lines_an_error_quotes_show_only_to_those_who_may_read_logs(
    server: FakeServer,
) -> None:
    shop = await Watched.open(server, "quiet")
    await shop.update(stabilitySeconds=0)
    await shop.released("first")
    await shop.update(stabilitySeconds=60, autoRollback=False)
    second_id = await shop.start_release("second")
    await shop.watching(second_id)
    await shop.deployer.crash("quiet", "web", 1)
    second = await wait_for_release(second_id, WAIT)
    assert "fatal: exiting with code 1" in (second.error or ""), second.error
    # A role that reads the project's releases and traces, and not its logs.
    role = await Role.create(name="release-reader", description="releases, not logs")
    for resource in ("release", "trace"):
        await Policy.create(role=role, effect=PolicyEffect.ALLOW, resource=resource, action="read")
    reader = await Factory(server.runtime).user("reader")
    project = await Project.get(name="quiet")
    await Membership.create(user=reader.user, project=project, role=role)
    release_gid = to_base64("Release", second.id)

    async def traced() -> bool:
        # Spans are stored in batches, a moment after the step ends.
        node = (await shop.gql(ERRORS_OF, {"id": release_gid}, token=shop.dev.token))["node"]
        spans = (node["trace"] or {}).get("spans", [])
        return any("restarted once" in span["statusMessage"] for span in spans)

    await until(traced)
    for person, may_read_logs in ((shop.dev, True), (reader, False)):
        node = (await shop.gql(ERRORS_OF, {"id": release_gid}, token=person.token))["node"]
        verify = next(step for step in node["steps"] if step["name"] == "verify")
        spans = node["trace"]["spans"]
        told = [s["statusMessage"] for s in spans] + [e["name"] for s in spans for e in s["events"]]
        quoting = [text for text in told if "restarted once" in text]
        # The release's span and its verify step's, and the step's failure event.
        assert len(quoting) >= 2, told
        for error in (node["error"], verify["error"], *quoting):
            # Why it failed reads the same to both; the app's own lines do not.
            assert "the app restarted once (last exit: exit code 1)" in error, error
            assert ("fatal: exiting with code 1" in error) is may_read_logs, error
            assert (HIDDEN_LOG_LINES in error) is not may_read_logs, error
