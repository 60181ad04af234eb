"""Releases survive a killed server, finish without their webhook, and fail on time."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.components import BASE_IMAGE, BuildComponents, build_settings
from tests.database import BACKEND, scratch_database, scratch_postgres_database
from tests.deploy.remote import make_app, save, wait_for_step, wait_until_finished
from tests.serverprocess import ServerProcess, home_idp_env

# Real components: the system tier.
pytestmark = pytest.mark.system

DOCKERFILE = f'FROM {BASE_IMAGE}\nCOPY . /app\nCMD ["/app/run"]\n'
# Releases the two replicas share: each is a whole flow (a build, a container).
RELEASES = 6
REPO = "git/platform.git"


@contextmanager
def hanging_receiver() -> Iterator[tuple[int, threading.Event]]:
    """A port that accepts connections and never answers (a stuck webhook receiver)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            connected.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], connected
    finally:
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


def commits_touching(data_dir: Path, path: str) -> list[str]:
    return subprocess.run(
        ["git", "-C", str(data_dir / REPO), "log", "--format=%H", "main", "--", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


async def test_a_server_killed_in_the_middle_of_a_step_finishes_the_release_soon_after_a_restart(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    data = tmp_path / "data"
    async with scratch_database(tmp_path) as database_url:
        with hanging_receiver() as (hang_port, hook_is_posting):
            # The platform repo's hook posts to a receiver that never answers, so
            # the commit step is still running (its push waits for the hook) when
            # the server is killed.
            server = ServerProcess(
                home_idp_env(
                    data,
                    database_url,
                    public_url=f"http://127.0.0.1:{hang_port}",
                    pipeline__reconcile_interval_seconds="0.3",
                    # No watch after the rollout: the figure is the recovery's.
                    pipeline__stability_seconds="0",
                    **build_settings(build_components.buildah_root),
                )
            )
            server.create_admin()
            server.start()
            try:
                server.login()
                release = save(server, make_app(server, "shop", "web"), DOCKERFILE)
                assert hook_is_posting.wait(timeout=20), "the post-receive hook never ran"
                server.kill()
                server.env["HOME_IDP_PUBLIC_URL"] = server.base_url
                restarted = time.monotonic()
                server.start()
                server.login()
                wait_for_step(server, release, "commit")
                seconds = time.monotonic() - restarted
                state = wait_until_finished(server, release)
                release_seconds = time.monotonic() - restarted
            finally:
                server.kill()
    print(
        f"{BACKEND}: restart to the end of the interrupted step: {seconds:.1f}s, "
        f"of the release: {release_seconds:.1f}s"
    )
    assert state["status"] == "SUCCEEDED", state
    steps = {step["name"]: step for step in state["steps"]}
    assert steps["commit"]["attempts"] == 2  # ran again after the restart
    assert steps["await-push"]["state"] == "SUCCEEDED"
    # Running the step again made no second commit.
    assert commits_touching(data, "projects/shop/apps/web/Dockerfile") == [state["commitSha"]]
    # The server took back the step its previous life held at once, without
    # waiting for that life's lease to run out (the times printed above show what
    # that saves: about 3 s to the step's end on an idle machine, where the lease
    # alone is 30 s; on a loaded one they say more of the load than of this).
    assert "took back 1 job(s) this server held before a restart" in server.log_path.read_text()


def test_a_release_fails_at_its_deadline_when_the_git_server_is_gone_and_can_be_retried(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(
        home_idp_env(
            data,
            f"sqlite://{tmp_path / 'home-idp.sqlite3'}",
            pipeline__commit_timeout_seconds="2",
            pipeline__max_attempts="50",
            pipeline__retry_backoff_seconds="0.2",
            pipeline__retry_backoff_max_seconds="0.5",
            **build_settings(build_components.buildah_root),
        )
    )
    server.env["HOME_IDP_PUBLIC_URL"] = server.base_url
    server.create_admin()
    server.start()
    try:
        server.login()
        app = make_app(server, "shop", "web")
        shutil.move(data / REPO, tmp_path / "moved.git")
        release = save(server, app, DOCKERFILE)
        failed = wait_until_finished(server, release)
        assert failed["status"] == "FAILED"
        assert "could not commit the Dockerfile to the platform repo within 2s" in failed["error"]
        assert "check that the git server is reachable" in failed["error"]
        commit = failed["steps"][0]
        assert commit["state"] == "FAILED" and commit["attempts"] > 1
        # The steps after it never started.
        assert {step["state"] for step in failed["steps"][1:]} == {"PENDING"}

        shutil.move(tmp_path / "moved.git", data / REPO)
        retried = server.graphql(
            "mutation($id: ID!) { retryRelease(input: {id: $id}) { __typename } }",
            {"id": release},
        )
        assert retried["retryRelease"]["__typename"] == "ReleaseSuccess"
        assert wait_until_finished(server, release)["status"] == "SUCCEEDED"
    finally:
        server.kill()


@pytest.mark.skipif(BACKEND != "postgres", reason="replicas share a Postgres: the Postgres pass")
async def test_two_replicas_on_one_postgres_run_each_step_once(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    data = tmp_path / "data"
    async with scratch_postgres_database() as database_url:
        first = ServerProcess(
            home_idp_env(data, database_url, **build_settings(build_components.buildah_root))
        )
        first.env["HOME_IDP_PUBLIC_URL"] = first.base_url
        second = ServerProcess(dict(first.env))
        first.create_admin()
        first.start()
        second.start()
        try:
            first.login()
            second.token = first.token
            releases = []
            for number in range(RELEASES):
                server = first if number % 2 else second
                app = make_app(server, "shop", f"web-{number}")
                releases.append(save(server, app, f"{DOCKERFILE}ENV N={number}\n"))
            states = [wait_until_finished(first, release, 300) for release in releases]
        finally:
            first.kill()
            second.kill()
    assert [s["status"] for s in states] == ["SUCCEEDED"] * RELEASES, states
    assert all(step["attempts"] == 1 for s in states for step in s["steps"]), states
    for number in range(RELEASES):
        assert len(commits_touching(data, f"projects/shop/apps/web-{number}/Dockerfile")) == 1
