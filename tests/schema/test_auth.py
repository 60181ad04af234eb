"""Login, refresh, sign-up, password change, and every way a token can be bad."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from argon2 import PasswordHasher

from home_idp.server.rbac.models import User, UserStatus
from home_idp.server.runtime import Runtime
from tests.factories import PASSWORD, Factory
from tests.graphql import GraphQLClient

LOGIN = """mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) {
    __typename
    ... on Tokens { accessToken refreshToken expiresIn }
    ... on Error { message }
  }
}"""
ME = "{ me { username } }"


async def login(gql: GraphQLClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    result: dict[str, str] = (await gql(LOGIN, {"u": username, "p": password}))["login"]
    return result


async def test_login_gives_tokens_that_identify_the_user(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.user("alice")
    tokens = await login(gql, "alice")
    assert tokens["__typename"] == "Tokens"
    assert (await gql(ME, token=tokens["accessToken"]))["me"] == {"username": "alice"}
    # A refresh token is not an access token.
    assert (await gql(ME, token=tokens["refreshToken"])).status == 401


async def test_wrong_password_and_unknown_user_look_the_same(
    gql: GraphQLClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await factory.user("alice")
    checks: list[str] = []
    verify = PasswordHasher.verify

    def counted_verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return verify(hasher, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted_verify)
    answers = {
        username: await login(gql, username, "wrong password!") for username in ("alice", "nobody")
    }
    assert answers["alice"] == answers["nobody"]
    assert answers["alice"]["__typename"] == "AuthenticationFailed"
    # Both cost one argon2 check, at the same cost: an unknown user is checked
    # against a dummy hash, or it would answer an order of magnitude faster.
    assert len(checks) == 2
    assert checks[0].split("$")[:4] == checks[1].split("$")[:4]


async def test_a_password_hashed_at_another_cost_moves_to_today_s_at_login(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    alice = await factory.user("alice")
    older = PasswordHasher(time_cost=2, memory_cost=16, parallelism=2).hash(PASSWORD)
    await User.filter(id=alice.user.id).update(password_hash=older)
    # A wrong password changes nothing.
    assert (await login(gql, "alice", "wrong password!"))["__typename"] == "AuthenticationFailed"
    assert (await User.get(id=alice.user.id)).password_hash == older
    assert (await login(gql, "alice"))["__typename"] == "Tokens"
    moved = (await User.get(id=alice.user.id)).password_hash
    assert moved != older
    assert not runtime.rbac.hashing.needs_rehash(moved)
    assert (await login(gql, "alice"))["__typename"] == "Tokens"


@pytest.mark.parametrize(
    ("status", "message"),
    [(UserStatus.PENDING, "approval"), (UserStatus.DISABLED, "disabled")],
)
async def test_pending_and_disabled_users_cannot_log_in(
    gql: GraphQLClient, factory: Factory, status: UserStatus, message: str
) -> None:
    await factory.user("bob", status=status)
    answer = await login(gql, "bob")
    assert answer["__typename"] == "AuthenticationFailed"
    assert message in answer["message"]


async def test_sign_up_creates_a_pending_user_who_can_do_nothing(
    gql: GraphQLClient, factory: Factory
) -> None:
    answer = (
        await gql(
            """mutation { signUp(input: {username: "carol", password: "long enough pw"}) {
                __typename ... on SignUpSuccess { user { username status } } } }"""
        )
    )["signUp"]
    assert answer == {
        "__typename": "SignUpSuccess",
        "user": {"username": "carol", "status": "PENDING"},
    }
    assert (await login(gql, "carol", "long enough pw"))["__typename"] == "AuthenticationFailed"
    # Even a token minted for a pending user is refused.
    user = await User.get(username="carol")
    token = factory.runtime.rbac.authenticator.issue_tokens(user).access_token
    assert (await gql(ME, token=token)).status == 401


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("../x", "long enough pw", "username"),
        ("Carol", "long enough pw", "username"),
        ("c" * 41, "long enough pw", "username"),
        ("carol", "short", "password"),
        ("carol", "x" * 1025, "password"),
    ],
)
async def test_sign_up_rejects_bad_input_and_creates_nothing(
    gql: GraphQLClient, username: str, password: str, field: str
) -> None:
    answer = (
        await gql(
            """mutation($u: String!, $p: String!) { signUp(input: {username: $u, password: $p}) {
                __typename ... on ValidationError { fieldErrors { field message } } } }""",
            {"u": username, "p": password},
        )
    )["signUp"]
    assert answer["__typename"] == "ValidationError"
    assert answer["fieldErrors"][0]["field"] == field
    assert await User.all().count() == 0


async def test_sign_up_with_a_taken_name_is_a_conflict(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.user("alice")
    answer = (
        await gql(
            'mutation { signUp(input: {username: "alice", password: "long enough pw"}) { __typename } }'
        )
    )["signUp"]
    assert answer["__typename"] == "Conflict"
    assert await User.all().count() == 1


async def test_refresh_gives_a_new_working_pair(gql: GraphQLClient, factory: Factory) -> None:
    await factory.user("alice")
    tokens = await login(gql, "alice")
    answer = (
        await gql(
            """mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
                __typename ... on Tokens { accessToken } } }""",
            {"t": tokens["refreshToken"]},
        )
    )["refreshToken"]
    assert answer["__typename"] == "Tokens"
    assert (await gql(ME, token=answer["accessToken"]))["me"]["username"] == "alice"
    # An access token cannot be used as a refresh token.
    bad = (
        await gql(
            "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { __typename } }",
            {"t": tokens["accessToken"]},
        )
    )["refreshToken"]
    assert bad["__typename"] == "AuthenticationFailed"


CHANGE = """mutation($c: String!, $n: String!) {
  changePassword(input: {currentPassword: $c, newPassword: $n}) {
    __typename ... on Tokens { accessToken refreshToken } ... on Error { message }
  }
}"""


async def test_changing_the_password_kills_every_old_token(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.user("alice")
    old = await login(gql, "alice")
    answer = (
        await gql(CHANGE, {"c": PASSWORD, "n": "a brand new password"}, token=old["accessToken"])
    )["changePassword"]
    assert answer["__typename"] == "Tokens"
    assert (await gql(ME, token=old["accessToken"])).status == 401
    refreshed = (
        await gql(
            "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { __typename } }",
            {"t": old["refreshToken"]},
        )
    )["refreshToken"]
    assert refreshed["__typename"] == "AuthenticationFailed"
    assert (await gql(ME, token=answer["accessToken"]))["me"]["username"] == "alice"
    assert (await login(gql, "alice"))["__typename"] == "AuthenticationFailed"
    assert (await login(gql, "alice", "a brand new password"))["__typename"] == "Tokens"


async def test_change_password_needs_the_current_one(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    before = (await User.get(username="alice")).password_hash
    answer = (
        await gql(CHANGE, {"c": "not my password", "n": "a brand new password"}, token=alice.token)
    )["changePassword"]
    assert answer["__typename"] == "AuthenticationFailed"
    assert (await User.get(username="alice")).password_hash == before
    assert (await gql(ME, token=alice.token))["me"]["username"] == "alice"


def _forge(payload: dict[str, object], header: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


async def test_bad_tokens_get_401_and_change_nothing(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    alice = await factory.user("alice", admin=True)
    now = int(time.time())
    claims = {
        "iss": "home-idp",
        "sub": str(alice.user.id),
        "iat": now,
        "exp": now + 600,
        "tv": 1,
        "typ": "access",
    }
    head, _, signature = alice.token.split(".")
    tampered_body = (
        base64.urlsafe_b64encode(json.dumps({**claims, "sub": "999"}).encode())
        .rstrip(b"=")
        .decode()
    )
    bad_tokens = {
        "tampered": f"{head}.{tampered_body}.{signature}",
        "alg none": _forge(claims, {"alg": "none", "typ": "JWT"}),
        "wrong key": jwt.encode(claims, "another key that is long enough!!", algorithm="HS256"),
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "exp": now - 3600},
            runtime.rbac.authenticator._codec._key,
            algorithm="HS256",
        ),
        "garbage": "not-a-token",
        "unknown api token": "hidp_" + "x" * 43,
    }
    for name, token in bad_tokens.items():
        result = await gql(
            'mutation { createProject(input: {name: "web"}) { __typename } }', token=token
        )
        assert result.status == 401, name
    from home_idp.server.rbac.models import Project

    assert await Project.all().count() == 0


async def test_disabling_a_user_kills_their_tokens(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    bob = await factory.user("bob")
    result = await gql(
        "mutation($id: ID!) { disableUser(input: {userId: $id}) { __typename } }",
        {"id": bob.gid},
        token=admin.token,
    )
    assert result["disableUser"]["__typename"] == "UserSuccess"
    assert (await gql(ME, token=bob.token)).status == 401


async def test_a_malformed_authorization_header_is_refused(gql: GraphQLClient) -> None:
    response = await gql.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": "Basic abc"}
    )
    assert response.status_code == 401


async def test_anonymous_callers_see_nothing(gql: GraphQLClient) -> None:
    result = await gql("{ me { username } }")
    assert result.error_messages == ["log in first"]


async def test_an_enormous_password_is_refused_like_any_wrong_one(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.user("alice")
    # As long as a request without a login may be (a longer one gets 413).
    answer = await login(gql, "alice", "p" * 60_000)
    assert answer == await login(gql, "alice", "wrong password!")
