"""Sessions and tokens: rotation with reuse detection, logout, one's own sessions,
credentials that end with a reset, disable or password change, and throttled
logins and sign-ups."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from home_idp.schema.core.client_info import client_info
from home_idp.server.rbac.models import ApiToken, User, UserSession
from home_idp.tui.screens.login import LoginScreen
from tests.factories import PASSWORD, Factory
from tests.graphql import GraphQLClient
from tests.serverprocess import ADMIN_PASSWORD, HOME_IDP, ServerProcess, home_idp_env
from tests.tui.conftest import config_dir, server_url, signed_in_dashboard, wait_for

__all__ = ["config_dir", "server_url"]  # the dashboard's fixtures, used here too

NEW_PASSWORD = "a brand new passphrase"

LOGIN = """mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) {
    __typename
    ... on Tokens { accessToken refreshToken }
    ... on Error { message }
    ... on TooManyAttempts { retryAfterSeconds }
  }
}"""
REFRESH = """mutation($r: String!) {
  refreshToken(input: {refreshToken: $r}) {
    __typename
    ... on Tokens { accessToken refreshToken }
    ... on Error { message }
  }
}"""
LOGOUT = """mutation($r: String) {
  logout(input: {refreshToken: $r}) { __typename ... on Error { message } }
}"""
SESSIONS = "{ sessions { edges { node { id clientAddress userAgent current } } } }"
REVOKE_SESSION = """mutation($id: ID!) {
  revokeSession(input: {id: $id}) { __typename ... on Error { message } }
}"""
CREATE_API_TOKEN = """mutation {
  createApiToken(input: {name: "ci"}) { ... on CreateApiTokenSuccess { token } }
}"""
RESET_PASSWORD = """mutation($id: ID!, $p: String!) {
  resetUserPassword(input: {userId: $id, newPassword: $p}) { __typename }
}"""
DISABLE = "mutation($id: ID!) { disableUser(input: {userId: $id}) { __typename } }"
ENABLE = "mutation($id: ID!) { enableUser(input: {userId: $id}) { __typename } }"
CHANGE_PASSWORD = """mutation($current: String!, $new: String!, $revoke: Boolean!) {
  changePassword(input: {currentPassword: $current, newPassword: $new, revokeApiTokens: $revoke}) {
    __typename ... on Tokens { accessToken refreshToken } ... on Error { message }
  }
}"""
SIGN_UP = """mutation($u: String!) {
  signUp(input: {username: $u, password: "long enough pw"}) {
    __typename ... on Error { message }
  }
}"""
ME = "{ me { username } }"

Address = Callable[..., GraphQLClient]


@pytest.fixture
async def from_address(app: Starlette) -> AsyncIterator[Address]:
    """GraphQL clients that reach the server from a given client address."""
    async with AsyncExitStack() as stack:

        def client(address: str, user_agent: str = "tests") -> GraphQLClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            http = httpx.AsyncClient(
                transport=transport,
                base_url="http://home-idp.test",
                headers={"User-Agent": user_agent},
            )
            stack.push_async_callback(http.aclose)
            return GraphQLClient(http)

        yield client


async def login(gql: GraphQLClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    answer: dict[str, Any] = (await gql(LOGIN, {"u": username, "p": password}))["login"]
    return answer


async def refresh(gql: GraphQLClient, refresh_token: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await gql(REFRESH, {"r": refresh_token}))["refreshToken"]
    return answer


async def works(gql: GraphQLClient, token: str) -> bool:
    return (await gql(ME, token=token)).status == 200


# --- rotation and reuse --------------------------------------------------------------------


async def test_each_refresh_token_works_once_and_reuse_ends_the_whole_session(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.user("alice")
    first = await login(gql, "alice")
    second = await refresh(gql, first["refreshToken"])
    assert second["__typename"] == "Tokens"
    assert second["refreshToken"] != first["refreshToken"]
    third = await refresh(gql, second["refreshToken"])
    assert third["__typename"] == "Tokens"

    # A copy of the first refresh token comes back: someone else holds it.
    replayed = await refresh(gql, first["refreshToken"])
    assert replayed["__typename"] == "AuthenticationFailed"
    # The whole family is gone: the newest refresh token and its access token too.
    assert (await refresh(gql, third["refreshToken"]))["__typename"] == "AuthenticationFailed"
    assert not await works(gql, third["accessToken"])
    session = await UserSession.get()
    assert session.revoke_reason == "refresh_token_reused"
    # Other sessions of the same user are not touched.
    other = await login(gql, "alice")
    assert (await refresh(gql, other["refreshToken"]))["__typename"] == "Tokens"


# --- logout --------------------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(gql: GraphQLClient, factory: Factory) -> None:
    await factory.user("alice")
    tokens = await login(gql, "alice")
    answer = (await gql(LOGOUT, {"r": None}, token=tokens["accessToken"]))["logout"]
    assert answer["__typename"] == "LogoutSuccess"
    assert not await works(gql, tokens["accessToken"])
    assert (await refresh(gql, tokens["refreshToken"]))["__typename"] == "AuthenticationFailed"


async def test_logout_with_the_refresh_token_alone(gql: GraphQLClient, factory: Factory) -> None:
    await factory.user("alice")
    tokens = await login(gql, "alice")
    answer = (await gql(LOGOUT, {"r": tokens["refreshToken"]}))["logout"]
    assert answer["__typename"] == "LogoutSuccess"
    assert not await works(gql, tokens["accessToken"])
    assert (await refresh(gql, tokens["refreshToken"]))["__typename"] == "AuthenticationFailed"
    # Twice is a clear error, not a success.
    again = (await gql(LOGOUT, {"r": tokens["refreshToken"]}))["logout"]
    assert again["__typename"] == "AuthenticationFailed"


async def test_the_dashboards_ctrl_o_ends_the_session_on_the_server(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient
) -> None:
    await factory.user("alice")
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=(120, 36)) as pilot:
        session = app.gateway.session
        assert session is not None
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="login screen")
    # What the dashboard held is worthless now, had it been copied.
    assert (await refresh(gql, session.refresh_token))["__typename"] == "AuthenticationFailed"
    assert not await works(gql, session.access_token)
    assert (await UserSession.get()).revoke_reason == "logout"


# --- one's own sessions --------------------------------------------------------------------


async def test_users_list_and_revoke_their_own_sessions_and_no_one_elses(
    factory: Factory, from_address: Address
) -> None:
    await factory.user("alice")
    await factory.user("bob")
    laptop = from_address("198.51.100.7", "laptop")
    phone = from_address("198.51.100.8", "phone")
    # A client cannot choose its address: X-Forwarded-For from an untrusted peer is ignored.
    laptop.http.headers["X-Forwarded-For"] = "192.0.2.99"
    on_laptop = await login(laptop, "alice")
    on_phone = await login(phone, "alice")
    bobs = await login(phone, "bob")

    listed = (await laptop(SESSIONS, token=on_laptop["accessToken"]))["sessions"]["edges"]
    nodes = {edge["node"]["userAgent"]: edge["node"] for edge in listed}
    assert set(nodes) == {"laptop", "phone"}
    assert nodes["laptop"]["current"] and not nodes["phone"]["current"]
    assert nodes["laptop"]["clientAddress"] == "198.51.100.7"
    assert nodes["phone"]["clientAddress"] == "198.51.100.8"

    # Bob's session is invisible to Alice: not found, and it keeps working.
    bobs_id = (await phone(SESSIONS, token=bobs["accessToken"]))["sessions"]["edges"][0]["node"]
    refused = (await laptop(REVOKE_SESSION, {"id": bobs_id["id"]}, token=on_laptop["accessToken"]))[
        "revokeSession"
    ]
    assert refused["__typename"] == "NotFound"
    assert await works(phone, bobs["accessToken"])

    # Alice ends her phone's session from the laptop.
    ended = (
        await laptop(REVOKE_SESSION, {"id": nodes["phone"]["id"]}, token=on_laptop["accessToken"])
    )["revokeSession"]
    assert ended["__typename"] == "RevokeSessionSuccess"
    assert not await works(phone, on_phone["accessToken"])
    assert (await refresh(phone, on_phone["refreshToken"]))["__typename"] == "AuthenticationFailed"
    assert await works(laptop, on_laptop["accessToken"])
    left = (await laptop(SESSIONS, token=on_laptop["accessToken"]))["sessions"]["edges"]
    assert [edge["node"]["userAgent"] for edge in left] == ["laptop"]


# --- credentials that end with the password ---------------------------------------------


async def api_token_of(gql: GraphQLClient, access_token: str) -> str:
    secret: str = (await gql(CREATE_API_TOKEN, token=access_token))["createApiToken"]["token"]
    assert await works(gql, secret)
    return secret


async def test_an_administrators_password_reset_revokes_the_users_api_tokens(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    tokens = await login(gql, "alice")
    secret = await api_token_of(gql, tokens["accessToken"])
    answer = await gql(RESET_PASSWORD, {"id": alice.gid, "p": NEW_PASSWORD}, token=admin.token)
    assert answer["resetUserPassword"]["__typename"] == "UserSuccess"
    assert not await works(gql, secret)
    assert (await refresh(gql, tokens["refreshToken"]))["__typename"] == "AuthenticationFailed"
    assert await ApiToken.filter(revoked_at=None).count() == 0


async def test_a_disable_revokes_api_tokens_and_enabling_again_does_not_revive_them(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    tokens = await login(gql, "alice")
    secret = await api_token_of(gql, tokens["accessToken"])
    assert (await gql(DISABLE, {"id": alice.gid}, token=admin.token))["disableUser"][
        "__typename"
    ] == "UserSuccess"
    assert (await gql(ENABLE, {"id": alice.gid}, token=admin.token))["enableUser"][
        "__typename"
    ] == "UserSuccess"
    assert not await works(gql, secret)
    assert (await refresh(gql, tokens["refreshToken"]))["__typename"] == "AuthenticationFailed"
    # A fresh login works again.
    assert (await login(gql, "alice"))["__typename"] == "Tokens"


@pytest.mark.parametrize("revoke", [False, True])
async def test_a_password_change_ends_sessions_and_revokes_api_tokens_when_asked(
    gql: GraphQLClient, factory: Factory, revoke: bool
) -> None:
    await factory.user("alice")
    elsewhere = await login(gql, "alice")
    here = await login(gql, "alice")
    secret = await api_token_of(gql, here["accessToken"])
    answer = (
        await gql(
            CHANGE_PASSWORD,
            {"current": PASSWORD, "new": NEW_PASSWORD, "revoke": revoke},
            token=here["accessToken"],
        )
    )["changePassword"]
    assert answer["__typename"] == "Tokens"
    # Every earlier session ended; the answer is a new, working one.
    for old in (here, elsewhere):
        assert (await refresh(gql, old["refreshToken"]))["__typename"] == "AuthenticationFailed"
    assert (await refresh(gql, answer["refreshToken"]))["__typename"] == "Tokens"
    assert await works(gql, secret) is not revoke


# --- throttling ----------------------------------------------------------------------------


async def test_failed_logins_slow_down_per_username_whether_it_exists_or_not(
    factory: Factory, from_address: Address
) -> None:
    await factory.user("alice")
    await factory.user("carol")
    answers = {}
    for username in ("alice", "nobody"):
        # Each guess from another address: the username alone is counted.
        for n in range(5):
            wrong = await login(from_address(f"203.0.113.{n + 1}"), username, "wrong password!")
            assert wrong["__typename"] == "AuthenticationFailed"
        answers[username] = await login(from_address("203.0.113.100"), username)
    # Even the right password waits now; an unknown name gets the same answer.
    assert answers["alice"]["__typename"] == answers["nobody"]["__typename"] == "TooManyAttempts"
    assert answers["alice"]["message"].startswith("too many failed logins; try again in")
    assert answers["nobody"]["message"].startswith("too many failed logins; try again in")
    assert answers["alice"]["retryAfterSeconds"] >= 1
    # Another user from the same addresses is not slowed down.
    assert (await login(from_address("203.0.113.1"), "carol"))["__typename"] == "Tokens"


async def test_failed_logins_slow_down_per_address(factory: Factory, from_address: Address) -> None:
    await factory.user("alice")
    attacker = from_address("203.0.113.66")
    for n in range(20):
        # A different name each time, so no username reaches its own limit.
        wrong = await login(attacker, f"guess{n}", "wrong password!")
        assert wrong["__typename"] == "AuthenticationFailed"
    assert (await login(attacker, "alice"))["__typename"] == "TooManyAttempts"
    assert (await login(from_address("203.0.113.67"), "alice"))["__typename"] == "Tokens"


async def test_a_successful_login_does_not_count_against_its_address(
    factory: Factory, from_address: Address
) -> None:
    await factory.user("alice")
    office = from_address("203.0.113.80")
    for _ in range(25):
        assert (await login(office, "alice"))["__typename"] == "Tokens"


async def test_sign_up_is_throttled_per_address(from_address: Address) -> None:
    crowd = from_address("203.0.113.50")
    for n in range(5):
        answer = (await crowd(SIGN_UP, {"u": f"newcomer{n}"}))["signUp"]
        assert answer["__typename"] == "SignUpSuccess"
    refused = (await crowd(SIGN_UP, {"u": "newcomer9"}))["signUp"]
    assert refused["__typename"] == "TooManyAttempts"
    assert "too many sign-ups" in refused["message"]
    assert not await User.exists(username="newcomer9")
    # Someone else signs up as usual.
    other = (await from_address("203.0.113.51")(SIGN_UP, {"u": "newcomer9"}))["signUp"]
    assert other["__typename"] == "SignUpSuccess"


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        # An untrusted peer's header is ignored: the client cannot pick its address.
        ("198.51.100.7", "192.0.2.1", "198.51.100.7"),
        # A trusted proxy's header names the client, up to the first untrusted hop.
        ("10.0.0.5", "192.0.2.1", "192.0.2.1"),
        ("10.0.0.5", "192.0.2.66, 192.0.2.1, 10.0.0.9", "192.0.2.1"),
        ("10.0.0.5", "", "10.0.0.5"),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: str, address: str
) -> None:
    scope = {
        "type": "http",
        "client": (peer, 1234),
        "headers": [(b"x-forwarded-for", forwarded.encode()), (b"user-agent", b"curl")],
    }
    info = client_info(Request(scope), ["10.0.0.0/8"])
    assert (info.address, info.user_agent) == (address, "curl")


def test_an_administrator_unlocks_a_user_whose_logins_are_slowed_down(tmp_path: Path) -> None:
    env = home_idp_env(tmp_path / "data", f"sqlite://{tmp_path / 'data' / 'home-idp.sqlite3'}")
    # Waits far longer than a guess takes, however slow the machine: every
    # guess after the free ones lands inside the wait the last one set.
    env["HOME_IDP_AUTH__BASE_DELAY_SECONDS"] = "120"
    server = ServerProcess(env)
    server.create_admin("root")
    server.start()
    try:
        # Someone guesses root's password until root's own logins must wait.
        answers = [
            server.graphql(LOGIN, {"u": "root", "p": f"guess number {n}"})["login"]["__typename"]
            for n in range(8)
        ]
        assert answers[-1] == "TooManyAttempts", answers
        right = server.graphql(LOGIN, {"u": "root", "p": ADMIN_PASSWORD})["login"]
        assert right["__typename"] == "TooManyAttempts", right

        unlocked = subprocess.run(
            [HOME_IDP, "admin", "unlock", "root"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert unlocked.returncode == 0, unlocked.stderr
        assert "may log in again" in unlocked.stdout
        right = server.graphql(LOGIN, {"u": "root", "p": ADMIN_PASSWORD})["login"]
        assert right["__typename"] == "Tokens", right
    finally:
        server.kill()
