"""`home-idp login | releases | logs | rollback`: the commands for scripts, run as a
subprocess against the real server (its plugins faked), through its GraphQL API."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64

from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.rbac.models import ApiToken, User
from home_idp.server.rbac.tokens import hash_api_token, new_api_token
from tests.deploy.flow import DOCKERFILE, make_app, save_dockerfile, wait_for_release
from tests.factories import PASSWORD, Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server
from tests.serverprocess import HOME_IDP


@dataclass
class Finished:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Shop:
    """A server with `shop/web` released twice by dev, and dev's API token."""

    url: str
    token: str
    config: Path

    async def home_idp(self, *args: str, token: bool = True, stdin: str = "") -> Finished:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOME_IDP_")}
        env["XDG_CONFIG_HOME"] = str(self.config)  # the session file lives here
        if token:
            env["HOME_IDP_TOKEN"] = self.token
        process = await asyncio.create_subprocess_exec(
            HOME_IDP,
            *args,
            "--server",
            self.url,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await process.communicate(stdin.encode())
        assert process.returncode is not None
        return Finished(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def shop(
    app: Starlette, factory: Factory, gql: GraphQLClient, tmp_path: Path
) -> AsyncIterator[Shop]:
    dev = await factory.user("dev")
    web = await make_app(await factory.project("shop", dev="developer"))
    for n in (1, 2):
        saved = await save_dockerfile(gql, dev.token, web, f"{DOCKERFILE}RUN echo {n}\n")
        release = await wait_for_release(int(from_base64(saved["release"]["id"])[1]))
        assert release.status is ReleaseStatus.SUCCEEDED, release.error
    secret = new_api_token()
    await ApiToken.create(
        user=await User.get(username="dev"),
        name="ci",
        token_hash=hash_api_token(secret),
        prefix=secret[:9],
        scopes=["read", "write"],
    )
    async with live_server(app) as address:
        yield Shop(f"http://{address}", secret, tmp_path / "config")


async def test_releases_are_listed_newest_first_as_text_and_as_json(shop: Shop) -> None:
    listed = await shop.home_idp("releases", "shop/web", "--output", "json")
    assert listed.code == 0, listed.err
    releases = listed.json()
    assert isinstance(releases, list)
    assert [(r["number"], r["status"], r["isLive"]) for r in releases] == [
        (2, "SUCCEEDED", True),
        (1, "SUCCEEDED", False),
    ]
    text = await shop.home_idp("releases", "shop/web")
    assert text.code == 0, text.err
    first, second = text.out.splitlines()
    assert first.startswith("#2") and "succeeded" in first and first.endswith("live")
    assert second.startswith("#1") and "dockerfile" in second and "dev" in second


async def test_a_rollback_starts_a_release_of_the_earlier_image(shop: Shop) -> None:
    rolled = await shop.home_idp("rollback", "shop/web", "1")
    assert rolled.code == 0, rolled.err
    assert rolled.out.strip() == "release #3 of shop/web rolls back to #1"
    third = await Release.get(number=3)
    assert third.trigger == "rollback to #1"
    assert (await wait_for_release(third.id)).status is ReleaseStatus.SUCCEEDED
    first = await Release.get(number=1)
    assert third.digest == first.digest


async def test_the_running_app_s_logs_are_printed(shop: Shop) -> None:
    printed = await shop.home_idp("logs", "shop/web", "--tail", "5", "--output", "json")
    assert printed.code == 0, printed.err
    lines = [json.loads(line) for line in printed.out.splitlines()]
    assert lines and all(line["text"].startswith("starting ") for line in lines)
    text = await shop.home_idp("logs", "shop/web")
    assert text.code == 0, text.err
    assert ": starting " in text.out


async def test_login_remembers_a_private_session_that_the_next_command_uses(shop: Shop) -> None:
    logged_in = await shop.home_idp(
        "login", "dev", "--password-stdin", token=False, stdin=PASSWORD + "\n"
    )
    assert logged_in.code == 0, logged_in.err
    assert logged_in.out.strip() == f"logged in to {shop.url} as dev"
    session = shop.config / "home-idp" / "session.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert PASSWORD not in session.read_text()
    listed = await shop.home_idp("releases", "shop/web", "--output", "json", token=False)
    assert listed.code == 0, listed.err
    assert [r["number"] for r in listed.json()] == [2, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("releases", "shop/nothing"), "project 'shop' has no app 'nothing'"),
        (("releases", "elsewhere/web"), "no project 'elsewhere' that you can see"),
        (("rollback", "shop/web", "9"), "shop/web has no release #9"),
    ],
    ids=["no-app", "no-project", "no-release"],
)
async def test_what_does_not_exist_is_an_error_that_says_so(
    shop: Shop, args: tuple[str, ...], message: str
) -> None:
    failed = await shop.home_idp(*args)
    assert failed.code == 1
    assert failed.err.startswith(f"home-idp: {message}")
    assert failed.out == ""
    assert await Release.filter().count() == 2  # nothing started


async def test_bad_input_is_refused_before_anything_is_asked(shop: Shop) -> None:
    for args in (("releases", "web"), ("releases", "a/b/c"), ("rollback", "shop/web", "one")):
        refused = await shop.home_idp(*args)
        assert refused.code == 2, refused
        assert "usage:" in refused.err


async def test_a_wrong_password_or_token_is_refused(shop: Shop) -> None:
    wrong = await shop.home_idp(
        "login", "dev", "--password-stdin", token=False, stdin="not the password\n"
    )
    assert wrong.code == 1
    assert "wrong username or password" in wrong.err
    assert not (shop.config / "home-idp" / "session.json").exists()
    shop.token = "hidp_" + "x" * 40
    refused = await shop.home_idp("releases", "shop/web")
    assert refused.code == 1
    assert refused.err.startswith("home-idp: ")
