"""The release flow with the platform repo on GitHub: a `home-idp serve` process
configured for the github git plugin, against the GitHub stand-in.

The stand-in runs in this test's event loop, so every blocking call to the
server process goes through a worker thread (`asyncio.to_thread`) and the
stand-in keeps answering the server meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.components import BASE_IMAGE
from tests.deploy.remote import make_app, save, wait_for_step, wait_until_finished
from tests.doubles.github import github_stand_in
from tests.liveserver import free_port
from tests.serverprocess import ServerProcess, home_idp_env

# Real components: the system tier.
pytestmark = pytest.mark.system

TOKEN = "ghp_GitHubFlowStandInToken0123456789abcd"
LOGIN = "home-idp-bot"
REPO = f"{LOGIN}/platform"
DOCKERFILE = f'FROM {BASE_IMAGE}\nCMD ["sh"]\n'
CANCEL = "mutation($id: ID!) { cancelRelease(input: {id: $id}) { __typename } }"
DOCKERFILE_PATH = "projects/shop/apps/web/Dockerfile"
COMMIT_TIMEOUT_SECONDS = 3

DELIVERIES = """
query {
  webhookDeliveries(first: 50) {
    edges { node { event outcome signatureOk detail } }
  }
}
"""


def await_push_detail(database: Path, commit_sha: str) -> dict[str, Any]:
    """The await-push step's detail, read from the server's SQLite file (read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        row = connection.execute(
            "SELECT s.detail FROM release_step s JOIN release r ON r.id = s.release_id "
            "WHERE r.commit_sha = ? AND s.name = 'await-push'",
            (commit_sha,),
        ).fetchone()
    assert row is not None, f"no await-push step for {commit_sha}"
    detail: dict[str, Any] = json.loads(row[0])
    return detail


async def test_a_release_on_github_is_advanced_by_its_push_webhook_and_fails_on_time_without_github(
    tmp_path: Path,
) -> None:
    database = tmp_path / "db.sqlite3"
    async with github_stand_in(TOKEN, login=LOGIN) as github:
        options = {
            "token": TOKEN,
            "owner": LOGIN,
            "api_url": github.base_url,
            "seconds_between_requests": "0",
            "seconds_between_writes": "0",
        }
        server = ServerProcess(
            home_idp_env(
                tmp_path / "data",
                f"sqlite://{database}",
                git__plugin="github",
                git__options=json.dumps(options),
                pipeline__commit_timeout_seconds=str(COMMIT_TIMEOUT_SECONDS),
                pipeline__max_attempts="50",
                pipeline__retry_backoff_seconds="0.2",
                pipeline__retry_backoff_max_seconds="0.5",
                # No reconciler pass during the test: only the webhook can
                # move the await-push step on.
                pipeline__reconcile_interval_seconds="3600",
            )
        )
        server.env["HOME_IDP_PUBLIC_URL"] = server.base_url
        await asyncio.to_thread(server.create_admin)
        try:
            # At start-up the server makes the repo on "GitHub" and registers its webhook.
            await asyncio.to_thread(server.start)
            await asyncio.to_thread(server.login)
            assert [hook.config["url"] for hook in github.repo(REPO).hooks.values()] == [
                f"{server.base_url}/webhooks/git"
            ]
            app = await asyncio.to_thread(make_app, server, "shop", "web")

            # GitHub is up: commit through the git data API, push webhook, done.
            # (The stand-in serves no git clones, so the build after it is not
            # part of this test: the release is cancelled once its push is in.)
            release = await asyncio.to_thread(save, server, app, DOCKERFILE)
            state = await asyncio.to_thread(wait_for_step, server, release, "await-push")
            await asyncio.to_thread(server.graphql, CANCEL, {"id": release})

            assert [(s["name"], s["state"]) for s in state["steps"]][:2] == [
                ("commit", "SUCCEEDED"),
                ("await-push", "SUCCEEDED"),
            ], state
            sha = state["commitSha"]
            assert github.repo(REPO).head("main") == sha
            assert github.repo(REPO).read(sha, DOCKERFILE_PATH) == DOCKERFILE.encode()
            [push] = [d for d in github.deliveries if d.event == "push"]
            assert push.url == f"{server.base_url}/webhooks/git"
            assert push.status == 200, push.error
            deliveries = await asyncio.to_thread(server.graphql, DELIVERIES)
            pushes = [
                edge["node"]
                for edge in deliveries["webhookDeliveries"]["edges"]
                if edge["node"]["event"] == "push"
            ]
            assert len(pushes) == 1, pushes
            assert pushes[0]["outcome"] == "accepted"
            assert pushes[0]["signatureOk"] is True
            assert sha[:12] in pushes[0]["detail"]
            assert await_push_detail(database, sha)["advanced_by"] == "webhook"

            # GitHub goes away: the next release fails at the commit deadline.
            await github.stop()
            second = await asyncio.to_thread(save, server, app, f"{DOCKERFILE}ENV GITHUB=down\n")
            failed = await asyncio.to_thread(wait_until_finished, server, second, 30)
        finally:
            await asyncio.to_thread(server.stop)

    assert failed["status"] == "FAILED", failed
    error = failed["error"]
    assert (
        f"could not commit the Dockerfile to the platform repo within {COMMIT_TIMEOUT_SECONDS}s"
        in error
    )
    assert "check that the git server is reachable" in error
    assert TOKEN not in error
    commit, await_push, *_ = failed["steps"]
    assert commit["name"] == "commit"
    assert commit["state"] == "FAILED"
    assert commit["attempts"] > 1
    assert await_push["state"] == "PENDING"
    assert failed["commitSha"] is None
    assert github.repo(REPO).read("main", DOCKERFILE_PATH) == DOCKERFILE.encode()


def test_the_server_starts_while_github_is_unreachable(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    options = {"token": TOKEN, "owner": LOGIN, "api_url": f"http://127.0.0.1:{closed}"}
    server = ServerProcess(
        home_idp_env(
            tmp_path / "data",
            f"sqlite://{tmp_path / 'db.sqlite3'}",
            git__plugin="github",
            git__options=json.dumps(options),
        )
    )
    server.create_admin()
    try:
        server.start()  # ready although the platform repo could not be set up
        server.login()
        assert server.graphql("{ me { username } }") == {"me": {"username": "root"}}
    finally:
        server.stop()
