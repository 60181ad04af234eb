"""User administration: approve, disable, enable, delete, reset, admin grants."""

from __future__ import annotations

from home_idp.server.rbac.models import ApiToken, Membership, User, UserStatus
from tests.factories import Factory
from tests.graphql import GraphQLClient

USER_ACTION = """mutation($id: ID!) {{
  {name}(input: {{userId: $id}}) {{
    __typename
    {success}
    ... on Error {{ message }}
  }}
}}"""


async def act(gql: GraphQLClient, name: str, gid: str, token: str) -> dict[str, object]:
    success = (
        "... on DeleteUserSuccess { deletedUsername }"
        if name == "deleteUser"
        else "... on UserSuccess { user { username status isAdmin } }"
    )
    query = USER_ACTION.format(name=name, success=success)
    result: dict[str, object] = (await gql(query, {"id": gid}, token=token))[name]
    return result


async def test_an_admin_approves_a_pending_user_who_can_then_log_in(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    carol = await factory.user("carol", status=UserStatus.PENDING)
    answer = await act(gql, "approveUser", carol.gid, admin.token)
    assert answer["user"] == {"username": "carol", "status": "ACTIVE", "isAdmin": False}
    assert (await act(gql, "approveUser", carol.gid, admin.token))["__typename"] == "Conflict"


async def test_disable_and_enable(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    bob = await factory.user("bob")
    assert (await act(gql, "disableUser", bob.gid, admin.token))["user"]["status"] == "DISABLED"  # type: ignore[index]
    assert (await act(gql, "enableUser", bob.gid, admin.token))["user"]["status"] == "ACTIVE"  # type: ignore[index]
    # The old session stays dead after re-enabling; a fresh login is needed.
    assert (await gql("{ me { username } }", token=bob.token)).status == 401


async def test_delete_removes_memberships_and_tokens(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    bob = await factory.user("bob")
    await factory.project("web", bob="developer")
    await ApiToken.create(user=bob.user, name="ci", token_hash="0" * 64, prefix="hidp_x", scopes=[])
    answer = await act(gql, "deleteUser", bob.gid, admin.token)
    assert answer == {"__typename": "DeleteUserSuccess", "deletedUsername": "bob"}
    assert not await User.exists(username="bob")
    assert await Membership.all().count() == 0
    assert await ApiToken.all().count() == 0


async def test_the_last_admin_cannot_be_removed(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    for name in ("deleteUser", "disableUser"):
        assert (await act(gql, name, admin.gid, admin.token))["__typename"] == "Conflict"
    demote = await gql(
        "mutation($id: ID!) { setUserAdmin(input: {userId: $id, admin: false}) { __typename } }",
        {"id": admin.gid},
        token=admin.token,
    )
    assert demote["setUserAdmin"]["__typename"] == "Conflict"
    root = await User.get(username="root")
    assert root.is_admin and root.status is UserStatus.ACTIVE

    # With a second admin, the first may step down.
    second = await factory.user("second", admin=True)
    assert (await act(gql, "deleteUser", admin.gid, second.token))[
        "__typename"
    ] == "DeleteUserSuccess"


async def test_reset_password_ends_sessions_and_validates(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    bob = await factory.user("bob")
    reset = """mutation($id: ID!, $p: String!) {
      resetUserPassword(input: {userId: $id, newPassword: $p}) {
        __typename ... on ValidationError { fieldErrors { field } } } }"""
    short = await gql(reset, {"id": bob.gid, "p": "short"}, token=admin.token)
    assert short["resetUserPassword"]["__typename"] == "ValidationError"
    assert (await gql("{ me { username } }", token=bob.token)).status == 200
    done = await gql(reset, {"id": bob.gid, "p": "another fine password"}, token=admin.token)
    assert done["resetUserPassword"]["__typename"] == "UserSuccess"
    assert (await gql("{ me { username } }", token=bob.token)).status == 401


async def test_ids_of_another_type_or_unknown_users_are_refused(
    gql: GraphQLClient, factory: Factory
) -> None:
    from strawberry.relay import to_base64

    admin = await factory.user("root", admin=True)
    wrong_type = await act(gql, "disableUser", to_base64("Project", admin.user.id), admin.token)
    assert wrong_type["__typename"] == "ValidationError"
    missing = await act(gql, "disableUser", to_base64("User", 9999), admin.token)
    assert missing["__typename"] == "NotFound"


async def test_users_list_filters_by_status(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    await factory.user("carol", status=UserStatus.PENDING)
    await factory.user("bob")
    pending = await gql(
        "{ users(status: PENDING) { totalCount edges { node { username } } } }", token=admin.token
    )
    assert pending["users"] == {"totalCount": 1, "edges": [{"node": {"username": "carol"}}]}
