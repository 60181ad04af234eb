"""`home-idp deploy <project>/<app> [--ref R] [--wait]`: "deploy now" for scripts, run
as a subprocess against the real server (its plugins faked), through its GraphQL API."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64

from home_idp.server.apps.models import App
from home_idp.server.pipeline.models import Release, ReleaseStatus
from tests.components import SOURCE_REPO
from tests.deploy.flow import wait_for_release
from tests.fakes import FakeSourceRepos
from tests.server import test_cli_client
from tests.server.test_cli_client import Shop

# shop/web released twice by dev, served on a port, and dev's API token.
shop = test_cli_client.shop


@pytest.fixture
async def source(app: Starlette, real_components: bool, shop: Shop) -> FakeSourceRepos:
    """The fakes' source repositories, which tests push commits to; shop/web's auto
    deploy is off, so only `deploy` starts a release from a push."""
    if real_components:
        pytest.skip("commits are pushed to the fakes' source repositories")
    await App.filter(name="web").update(auto_deploy=False)
    repos: FakeSourceRepos = app.state.fakes.source
    repos.forget()
    return repos


async def test_deploy_wait_prints_each_step_and_exits_0_when_the_release_succeeds(
    shop: Shop, source: FakeSourceRepos
) -> None:
    sha = source.push(SOURCE_REPO, message="Greet in French\n\nbody", author="Ada")
    deployed = await shop.home_idp("deploy", "shop/web", "--wait")
    assert deployed.code == 0, deployed
    lines = deployed.out.splitlines()
    assert lines[0] == "release #3 of shop/web started"
    assert lines[-1] == "release #3 succeeded"
    steps = [line.split() for line in lines[1:-1]]
    assert steps and all(step[0] == "#3" for step in steps)
    # Each step is printed as its state changes, and every one ends succeeded.
    assert len(set(map(tuple, steps))) == len(steps)
    ended = {step[1]: step[2] for step in steps}
    assert set(ended.values()) == {"succeeded"}, deployed.out
    third = await Release.get(number=3)
    assert third.status is ReleaseStatus.SUCCEEDED
    assert third.trigger.startswith("deploy")

    listed = await shop.home_idp("releases", "shop/web")
    assert listed.code == 0, listed.err
    newest = listed.out.splitlines()[0]
    assert newest.startswith("#3") and sha[:12] in newest and sha[:13] not in newest


async def test_deploy_wait_exits_1_when_the_release_fails(
    shop: Shop, source: FakeSourceRepos, app: Starlette
) -> None:
    # The fakes' builder cannot be made to fail a Dockerfile the server accepts;
    # their deployer can fail the release's rollout.
    deployer = app.state.fakes.deployer
    deployer.fail_rollout("shop", "web", "the health check never passed")
    source.push(SOURCE_REPO, message="Another change")

    try:
        deployed = await shop.home_idp("deploy", "shop/web", "--wait")
    finally:
        # The fake keeps the failure by release number, which the next test's
        # shop/web #3 (the database is emptied, the session's fakes are not) would get.
        deployer._failed.pop(("shop", "web", 3), None)
    assert deployed.code == 1, deployed
    last = deployed.out.splitlines()[-1]
    assert last.startswith("release #3 failed: "), deployed.out
    assert "rollout" in last
    # The command prints the states it reads: a rollout that fails within one
    # read of starting shows as failed only.
    rollout = [line.split()[2] for line in deployed.out.splitlines() if " rollout " in line]
    assert rollout in (["running", "failed:"], ["failed:"]), deployed.out
    assert (await Release.get(number=3)).status is ReleaseStatus.FAILED


async def test_deploy_prints_json_objects(shop: Shop, source: FakeSourceRepos) -> None:
    sha = source.push(SOURCE_REPO, message="Greet in French", author="Ada")
    started = await shop.home_idp("deploy", "shop/web", "--output", "json")
    assert started.code == 0, started.err
    assert started.json()["number"] == 3
    assert started.json()["status"] == "RUNNING"
    await wait_for_release(int(from_base64(started.json()["id"])[1]))

    source.push(SOURCE_REPO, message="And in German", author="Ada")
    followed = await shop.home_idp("deploy", "shop/web", "--wait", "--output", "json")
    assert followed.code == 0, followed.err
    objects = [json.loads(line) for line in followed.out.splitlines()]
    assert objects[0]["number"] == 4
    steps = objects[1:-1]
    assert steps and all(
        o["release"] == 4 and {"step", "state", "error"} <= o.keys() for o in steps
    )
    final = objects[-1]
    assert final["number"] == 4 and final["status"] == "SUCCEEDED"
    assert final["sourceCommit"]["message"] == "And in German"
    assert final["sourceCommit"]["sha"] != sha

    listed = await shop.home_idp("releases", "shop/web", "--output", "json")
    commits = [r["sourceCommit"] for r in listed.json()]
    assert commits[1]["sha"] == sha and commits[1]["author"] == "Ada"
    assert commits[2] is None or commits[2]["sha"]  # a Dockerfile's release may not know it


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (("deploy", "shop/nothing"), True, "project 'shop' has no app 'nothing'"),
        (("deploy", "shop/web", "--ref", "bad..ref"), True, "ref"),
        (("deploy", "shop/web"), False, "not logged in"),
        (("deploy", "web"), True, "usage:"),
    ],
    ids=["no-app", "bad-ref", "no-session", "not-an-app-path"],
)
async def test_bad_input_and_a_missing_session_exit_2(
    shop: Shop, source: FakeSourceRepos, args: tuple[str, ...], token: bool, message: str
) -> None:
    source.push(SOURCE_REPO)
    refused = await shop.home_idp(*args, "--wait", token=token)
    assert refused.code == 2, refused
    assert message in refused.err
    assert refused.out == ""
    assert await Release.filter().count() == 2  # nothing started


async def test_a_refused_token_exits_2(shop: Shop, source: FakeSourceRepos) -> None:
    source.push(SOURCE_REPO)
    shop.token = "hidp_" + "x" * 40
    refused = await shop.home_idp("deploy", "shop/web", "--wait")
    assert refused.code == 2, refused
    assert refused.err.startswith("home-idp: ")
    assert await Release.filter().count() == 2


async def test_a_source_that_cannot_be_read_starts_nothing(
    shop: Shop, source: FakeSourceRepos
) -> None:
    source.broken[SOURCE_REPO] = "the host went away"
    refused = await shop.home_idp("deploy", "shop/web", "--wait")
    assert refused.code == 1, refused
    assert refused.err.startswith("home-idp: the source repository cannot be read")
    assert await Release.filter().count() == 2
