"""Who may do what: every mutation, query and subscription of the API for every kind of caller.

One table, TABLE, says for each operation what happens to each caller:

    admin       a global administrator who is not a member of the project
    maintainer  member of project `web` with the built-in role maintainer
    developer   member of `web` as developer
    viewer      member of `web` as viewer
    outsider    an active user who is not a member of `web` (but maintains another project)
    anonymous   no token at all

`test_the_table_covers_every_field_of_the_schema` fails when the schema gains a
mutation, query or subscription that the table does not mention, so a new field
cannot ship without saying who may use it.

Pending and disabled users never get past authentication (their tokens are
refused with 401, see test_auth.py), so they have no column. A read-only API
token is not a column either: `test_a_read_only_api_token_changes_nothing` runs
the app, release and webhook rows with an administrator's read-only token.

Outcomes:

    ALLOW   mutation: the success type, and the database changed as asked.
            query: data that shows the object. subscription: the event the
            case is about.
    DENY    mutation: PermissionDenied, the database unchanged and the refusal
            audited. query or subscription: a GraphQL error ("log in first",
            "only administrators may ...") and no data.
    HIDE    the caller may not even learn that the object exists. mutation:
            NotFound and the database unchanged. query: no error, but the object
            is absent (null or not in the list); or, for a field that cannot be
            null, the same "no such ..." error as for an id that does not exist.
            subscription: that "no such ..." error, and no event.
    NOAUTH  mutation: AuthenticationFailed and the database unchanged (changing
            a password needs a password login).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from strawberry.relay import to_base64
from strawberry.types import ExecutionResult

from home_idp.plugins.deployer.contract import AppLogLine, AppResource
from home_idp.plugins.installer.contract import ComponentStatus
from home_idp.schema.core.context import Context
from home_idp.schema.core.relay import encode_cursor
from home_idp.schema.schema import build_schema
from home_idp.server.apps.models import (
    App,
    AppFile,
    AppSecret,
    DockerfileVersion,
    ProjectVariable,
    SourceCredential,
)
from home_idp.server.apps.source_hosts import source_origin
from home_idp.server.deploy.models import BuildLogLine, DeliveryOutcome, GitPush, WebhookDelivery
from home_idp.server.install.manager import INSTALL_TOPIC, InstallEvent
from home_idp.server.install.models import Component
from home_idp.server.pipeline.models import (
    Release,
    ReleaseEvent,
    ReleaseStatus,
    ReleaseStep,
    StepState,
)
from home_idp.server.rbac import ANONYMOUS
from home_idp.server.rbac.models import (
    ApiToken,
    AuditEvent,
    Membership,
    Policy,
    PolicyEffect,
    Project,
    Role,
    User,
    UserSession,
    UserStatus,
)
from home_idp.server.rbac.sessions import ClientInfo, start_session
from home_idp.server.rbac.tokens import hash_api_token, new_api_token
from home_idp.server.runtime import Runtime
from home_idp.server.trace.models import Span
from tests.components import BASE_IMAGE, REGISTRY_HOST, SOURCE_REPO
from tests.deploy.flow import wait_for_release
from tests.factories import PASSWORD, Factory, Person
from tests.fakes.source import FakeSourceRepos
from tests.graphql import GraphQLClient

CALLERS = ("admin", "maintainer", "developer", "viewer", "outsider", "anonymous")
READ_ONLY_TOKEN = "read_only_token"  # not a column: an API token of `root` with scope read only
USERNAMES = {
    "admin": "root",
    "maintainer": "mia",
    "developer": "dev",
    "viewer": "vic",
    "outsider": "otto",
    "anonymous": "anonymous",
    READ_ONLY_TOKEN: "root",
}
BYSTANDER = "bea"  # a developer of `web` (and viewer of `api`) whom the callers act upon
NEW_PASSWORD = "a different long password"
DENIAL_MESSAGES = {
    "log in first",
    "only administrators may do this",
    "only administrators may see another user's projects",
}
# What a caller hears about an object that does not exist; so also about one it may not see.
NOT_FOUND_MESSAGES = {
    "no such project",
    "no such app",
    "no such Dockerfile version",
    "no such release",
    "no such trace",
}
SUBSCRIPTION_TIMEOUT = 5  # seconds to wait for the first event of a subscription


class Outcome(enum.Enum):
    ALLOW = "allowed"
    DENY = "denied"
    HIDE = "hidden"
    NOAUTH = "unauthenticated"

    @property
    def label(self) -> str:
        return "allowed" if self is Outcome.ALLOW else "denied"


ALLOW, DENY, HIDE, NOAUTH = Outcome.ALLOW, Outcome.DENY, Outcome.HIDE, Outcome.NOAUTH
MUTATION_ERROR = {DENY: "PermissionDenied", HIDE: "NotFound", NOAUTH: "AuthenticationFailed"}


# --- the world every case starts from ---------------------------------------------------


@dataclass
class World:
    runtime: Runtime
    people: dict[str, Person]
    web: Project
    # Events a case scheduled for its subscription, cancelled once it has ended.
    scheduled: list[asyncio.TimerHandle] = field(default_factory=list)

    def person(self, caller: str) -> Person | None:
        return self.people.get(caller)

    def token(self, caller: str) -> str | None:
        person = self.person(caller)
        return person.token if person else None

    @property
    def bystander(self) -> Person:
        return self.people["bystander"]

    def acting_user(self, caller: str) -> Person:
        """The caller, or the bystander for anonymous (whose own objects do not exist)."""
        return self.person(caller) or self.bystander


async def make_world(factory: Factory) -> None:
    for caller in CALLERS[1:5]:
        await factory.user(USERNAMES[caller])
    await factory.user(USERNAMES["admin"], admin=True)
    await factory.user(BYSTANDER)
    await factory.project("web", mia="maintainer", dev="developer", vic="viewer", bea="developer")
    await factory.project("elsewhere", otto="maintainer")
    await factory.project("api", bea="viewer")


def unsaved_copy(row: Any) -> Any:
    """`row` as a new object, its id included, to insert again."""
    return type(row)(**{name: getattr(row, name) for name in row._meta.fields_db_projection})


# The world's rows as `make_world` first made them in this process's database.
_world_rows: list[list[Any]] = []


async def build_world(factory: Factory, runtime: Runtime) -> World:
    """The users, projects and memberships every case starts from.

    Made through the factory once, then put back as rows (three inserts) for
    each of the some six hundred cases, instead of some thirty queries each.
    """
    if not _world_rows:
        await make_world(factory)
        _world_rows.extend([await User.all(), await Project.all(), await Membership.all()])
    else:
        for rows in _world_rows:
            await type(rows[0]).bulk_create([unsaved_copy(row) for row in rows])
    users = {user.username: user for user in await User.all()}
    issue_tokens = runtime.rbac.authenticator.issue_tokens

    def person(username: str) -> Person:
        user = users[username]
        return Person(user, issue_tokens(user).access_token)

    people = {caller: person(USERNAMES[caller]) for caller in (*CALLERS[1:5], "admin")}
    people["bystander"] = person(BYSTANDER)
    return World(runtime, people, await Project.get(name="web"))


def gid(type_name: str, row: Any) -> str:
    return to_base64(type_name, row.pk)


async def make_token(owner: Person, name: str) -> ApiToken:
    digest = hashlib.sha256(f"{owner.user.username}:{name}".encode()).hexdigest()
    return await ApiToken.create(
        user=owner.user, name=name, token_hash=digest, prefix="hidp_test", scopes=["read", "write"]
    )


async def make_custom_role() -> Role:
    role = await Role.create(name="custom", description="before")
    await Policy.create(
        role=role, effect=PolicyEffect.ALLOW, resource="app", action="read", project_pattern="*"
    )
    return role


async def token_versions() -> dict[str, int]:
    return {user.username: user.token_version for user in await User.all()}


async def role_in_web(username: str) -> str | None:
    membership = await Membership.get_or_none(
        project__name="web", user__username=username
    ).select_related("role")
    return membership.role.name if membership else None


# --- operations ---------------------------------------------------------------------------

Arrange = Callable[[World, str], Awaitable[dict[str, Any]]]
Verify = Callable[[World, str, bool], Awaitable[None]]
Seen = Callable[[World, str, Any], bool]


@dataclass(frozen=True)
class MutationOp:
    """A mutation; `arrange` returns its input, `verify` checks the database afterwards."""

    field: str
    input_type: str
    success: str
    arrange: Arrange
    verify: Verify
    variant: str = ""

    @property
    def document(self) -> str:
        return (
            f"mutation($input: {self.input_type}!) {{ {self.field}(input: $input) "
            "{ __typename ... on Error { message } } }"
        )

    async def run(self, gql: GraphQLClient, world: World, caller: str, outcome: Outcome) -> None:
        variables = {"input": await self.arrange(world, caller)}
        answer = (await gql(self.document, variables, token=world.token(caller)))[self.field]
        wanted = self.success if outcome is ALLOW else MUTATION_ERROR[outcome]
        assert answer["__typename"] == wanted, answer
        await self.verify(world, caller, outcome is ALLOW)
        if outcome is DENY:
            # Administrators see refused attempts in the audit log.
            assert await AuditEvent.exists(outcome="denied", actor=USERNAMES[caller])


@dataclass(frozen=True)
class QueryOp:
    """A query; `seen` tells whether the answer shows the object the case is about.

    `not_null` marks a field that cannot answer null: it hides an object with the
    NotFound error it gives for an id that does not exist.
    """

    field: str
    document: str
    seen: Seen
    arrange: Arrange | None = None
    variant: str = ""
    not_null: bool = False

    async def run(self, gql: GraphQLClient, world: World, caller: str, outcome: Outcome) -> None:
        variables = await self.arrange(world, caller) if self.arrange else {}
        result = await gql(self.document, variables, token=world.token(caller))
        assert result.status == 200, result.response.text
        value = (result.data or {}).get(self.field)
        if outcome is ALLOW:
            assert not result.errors, result.errors
            assert self.seen(world, caller, value), value
        elif outcome is HIDE and self.not_null:
            assert set(result.error_messages) <= NOT_FOUND_MESSAGES, result.errors
            assert result.errors
            assert value is None, value
        elif outcome is HIDE:
            assert not result.errors, result.errors
            assert not self.seen(world, caller, value), value
        else:
            assert outcome is DENY
            assert all(denied(caller, message) for message in result.error_messages), result.errors
            assert result.errors
            assert value is None, value


def denied(caller: str, message: str) -> bool:
    """A denial; without a login, a query past the tighter anonymous limits is one too."""
    return message in DENIAL_MESSAGES or (
        caller == "anonymous" and message.endswith("for a request without a login")
    )


@dataclass(frozen=True)
class SubscriptionOp:
    """A subscription; `seen` tells whether its first event is the one the case is about.

    It runs in-process on the schema the server serves, with the principal that the
    websocket's `connection_init` token gives (test_audit.py covers the websocket).
    """

    field: str
    document: str
    seen: Seen
    arrange: Arrange
    variant: str = ""

    async def run(self, gql: GraphQLClient, world: World, caller: str, outcome: Outcome) -> None:
        variables = await self.arrange(world, caller)
        runtime = world.runtime
        token = world.token(caller)
        principal = (
            await runtime.rbac.authenticator.authenticate_bearer(token) if token else ANONYMOUS
        )
        assert principal is not None
        stream = await build_schema(runtime.settings.graphql).subscribe(
            self.document,
            variable_values=variables,
            context_value=Context(runtime=runtime, principal=principal),
        )
        result: ExecutionResult
        if isinstance(stream, ExecutionResult):  # refused before it started (PreExecutionError)
            result = stream
        else:
            try:
                result = await asyncio.wait_for(anext(stream), SUBSCRIPTION_TIMEOUT)
            finally:
                await stream.aclose()
                for handle in world.scheduled:
                    handle.cancel()
        messages = {error.message for error in result.errors or []}
        value = (result.data or {}).get(self.field)
        if outcome is ALLOW:
            assert not result.errors, result.errors
            assert self.seen(world, caller, value), value
        else:
            assert outcome in (DENY, HIDE)
            assert messages, result
            assert messages <= (DENIAL_MESSAGES if outcome is DENY else NOT_FOUND_MESSAGES), (
                messages
            )
            assert value is None, value


Operation = MutationOp | QueryOp | SubscriptionOp


def names(connection: dict[str, Any] | None, *path: str) -> list[Any]:
    """The values at `path` inside each node of a connection."""
    values = []
    for edge in (connection or {"edges": []})["edges"]:
        value = edge["node"]
        for key in path:
            value = value[key]
        values.append(value)
    return values


# Mutations: sign-up, login, tokens and passwords.


async def sign_up_input(world: World, caller: str) -> dict[str, Any]:
    return {"username": "newcomer", "password": PASSWORD}


async def sign_up_verify(world: World, caller: str, changed: bool) -> None:
    user = await User.get_or_none(username="newcomer")
    assert (user is not None) is changed
    assert user is None or (user.status is UserStatus.PENDING and not user.is_admin)


async def login_input(world: World, caller: str) -> dict[str, Any]:
    return {"username": BYSTANDER, "password": PASSWORD}


async def login_verify(world: World, caller: str, changed: bool) -> None:
    logged_in = await AuditEvent.exists(action="auth.login", actor=BYSTANDER, outcome="ok")
    assert logged_in is changed


async def refresh_input(world: World, caller: str) -> dict[str, Any]:
    pair = await world.runtime.rbac.authenticator.start_session(world.bystander.user)
    return {"refreshToken": pair.refresh_token}


async def refresh_verify(world: World, caller: str, changed: bool) -> None:
    # Refreshing changes nothing stored; the new token pair is the whole answer.
    assert set((await token_versions()).values()) == {1}


async def change_password_input(world: World, caller: str) -> dict[str, Any]:
    return {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}


async def change_password_verify(world: World, caller: str, changed: bool) -> None:
    versions = await token_versions()
    assert {name for name, version in versions.items() if version != 1} == (
        {USERNAMES[caller]} if changed else set()
    )


# Mutations: projects and members.


async def create_project_input(world: World, caller: str) -> dict[str, Any]:
    return {"name": "fresh", "description": "made in the matrix"}


async def create_project_verify(world: World, caller: str, changed: bool) -> None:
    assert await Project.exists(name="fresh") is changed
    if changed:  # the creator becomes its maintainer
        membership = await Membership.get(project__name="fresh").select_related("user", "role")
        assert (membership.user.username, membership.role.name) == (USERNAMES[caller], "maintainer")


async def update_project_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("Project", world.web), "description": "changed"}


async def update_project_verify(world: World, caller: str, changed: bool) -> None:
    description = (await Project.get(name="web")).description
    assert description == ("changed" if changed else "web project")


async def delete_project_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("Project", world.web)}


async def delete_project_verify(world: World, caller: str, changed: bool) -> None:
    assert await Project.exists(name="web") is not changed
    assert await Membership.filter(project__name="web").count() == (0 if changed else 4)


async def delete_project_with_apps_input(world: World, caller: str) -> dict[str, Any]:
    await an_app(world)
    return {"id": gid("Project", world.web), "deleteApps": True}


async def delete_project_with_apps_verify(world: World, caller: str, changed: bool) -> None:
    # The app is torn down with the project, or neither goes.
    assert await Project.exists(name="web") is not changed
    assert await App.exists(name=SHOP) is not changed


async def add_member_input(world: World, caller: str) -> dict[str, Any]:
    await User.create(username="newbie", password_hash="-", status=UserStatus.ACTIVE)
    return {"projectId": gid("Project", world.web), "username": "newbie", "role": "viewer"}


async def add_member_verify(world: World, caller: str, changed: bool) -> None:
    assert await role_in_web("newbie") == ("viewer" if changed else None)


async def set_member_role_input(world: World, caller: str) -> dict[str, Any]:
    return {"projectId": gid("Project", world.web), "username": BYSTANDER, "role": "viewer"}


async def set_member_role_verify(world: World, caller: str, changed: bool) -> None:
    assert await role_in_web(BYSTANDER) == ("viewer" if changed else "developer")


async def remove_member_input(world: World, caller: str) -> dict[str, Any]:
    return {"projectId": gid("Project", world.web), "username": BYSTANDER}


async def remove_member_verify(world: World, caller: str, changed: bool) -> None:
    assert await role_in_web(BYSTANDER) == (None if changed else "developer")


# Mutations: user administration.


async def pending_user_input(world: World, caller: str) -> dict[str, Any]:
    pending = await User.create(username="pat", password_hash="-", status=UserStatus.PENDING)
    return {"userId": gid("User", pending)}


async def approve_verify(world: World, caller: str, changed: bool) -> None:
    status = (await User.get(username="pat")).status
    assert status is (UserStatus.ACTIVE if changed else UserStatus.PENDING)


async def bystander_input(world: World, caller: str) -> dict[str, Any]:
    return {"userId": world.bystander.gid}


async def disable_verify(world: World, caller: str, changed: bool) -> None:
    bea = await User.get(username=BYSTANDER)
    assert bea.status is (UserStatus.DISABLED if changed else UserStatus.ACTIVE)
    assert bea.token_version == (2 if changed else 1)


async def disabled_user_input(world: World, caller: str) -> dict[str, Any]:
    disabled = await User.create(username="dan", password_hash="-", status=UserStatus.DISABLED)
    return {"userId": gid("User", disabled)}


async def enable_verify(world: World, caller: str, changed: bool) -> None:
    status = (await User.get(username="dan")).status
    assert status is (UserStatus.ACTIVE if changed else UserStatus.DISABLED)


async def delete_user_verify(world: World, caller: str, changed: bool) -> None:
    assert await User.exists(username=BYSTANDER) is not changed


async def reset_password_input(world: World, caller: str) -> dict[str, Any]:
    return {"userId": world.bystander.gid, "newPassword": NEW_PASSWORD}


async def reset_password_verify(world: World, caller: str, changed: bool) -> None:
    bea = await User.get(username=BYSTANDER)
    assert (bea.password_hash != world.bystander.user.password_hash) is changed
    assert bea.token_version == (2 if changed else 1)


async def set_admin_input(world: World, caller: str) -> dict[str, Any]:
    return {"userId": world.bystander.gid, "admin": True}


async def set_admin_verify(world: World, caller: str, changed: bool) -> None:
    assert (await User.get(username=BYSTANDER)).is_admin is changed


# Mutations: custom roles.


async def create_role_input(world: World, caller: str) -> dict[str, Any]:
    policy = {"effect": "allow", "resource": "project", "action": "read"}
    return {"name": "auditor", "policies": [policy]}


async def create_role_verify(world: World, caller: str, changed: bool) -> None:
    assert await Role.exists(name="auditor") is changed


async def update_role_input(world: World, caller: str) -> dict[str, Any]:
    role = await make_custom_role()
    policy = {"effect": "deny", "resource": "*", "action": "*"}
    return {"id": gid("Role", role), "description": "after", "policies": [policy]}


async def update_role_verify(world: World, caller: str, changed: bool) -> None:
    role = await Role.get(name="custom")
    effects = await Policy.filter(role=role).values_list("effect", flat=True)
    assert role.description == ("after" if changed else "before")
    assert [str(effect) for effect in effects] == (["deny"] if changed else ["allow"])


async def delete_role_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("Role", await make_custom_role())}


async def delete_role_verify(world: World, caller: str, changed: bool) -> None:
    assert await Role.exists(name="custom") is not changed


# Mutations: API tokens.


async def create_token_input(world: World, caller: str) -> dict[str, Any]:
    return {"name": "ci"}


async def create_token_verify(world: World, caller: str, changed: bool) -> None:
    owners = [
        token.user.username for token in await ApiToken.filter(name="ci").select_related("user")
    ]
    assert owners == ([USERNAMES[caller]] if changed else [])


async def own_token_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("ApiToken", await make_token(world.acting_user(caller), "mine"))}


async def bystanders_token_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("ApiToken", await make_token(world.bystander, "theirs"))}


async def revoked_verify(world: World, caller: str, changed: bool) -> None:
    token = await ApiToken.get()  # the one token of the case
    assert (token.revoked_at is not None) is changed


# Mutations and queries: login sessions, private to their owner (admins included).


async def make_session(owner: Person, user_agent: str) -> UserSession:
    return await start_session(owner.user, ClientInfo("192.0.2.1", user_agent), 3600, 50)


async def own_session_gid(world: World, caller: str) -> str:
    return gid("Session", await make_session(world.acting_user(caller), "mine"))


async def bystanders_session_gid(world: World, caller: str) -> str:
    return gid("Session", await make_session(world.bystander, "theirs"))


async def own_session_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": await own_session_gid(world, caller)}


async def bystanders_session_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": await bystanders_session_gid(world, caller)}


async def logout_input(world: World, caller: str) -> dict[str, Any]:
    # The refresh token alone ends its session, with or without an access token.
    owner = world.acting_user(caller)
    session = await make_session(owner, "mine")
    pair = world.runtime.rbac.authenticator.issue_tokens(owner.user, session)
    return {"refreshToken": pair.refresh_token}


async def session_ended_verify(world: World, caller: str, changed: bool) -> None:
    session = await UserSession.get()  # the one session of the case
    assert (session.revoked_at is not None) is changed


async def caller_and_bystander_sessions(world: World, caller: str) -> dict[str, Any]:
    person = world.person(caller)
    if person is not None:
        await make_session(person, "mine")
    await make_session(world.bystander, "theirs")
    return {}


# Mutations: apps and their secrets.
#
# The app `shop` of `web` has two Dockerfile versions and the secret API_KEY.

SHOP = "shop"
DOCKERFILES = (f"FROM {BASE_IMAGE}\n", f"FROM {BASE_IMAGE}\nUSER nobody\n")
MARKER = "matrix marker"
PUSHED_SHA = "ab" * 20  # the commit of release #1


async def an_app(world: World) -> App:
    app = await App.create(project=world.web, name=SHOP, source_repo=SOURCE_REPO)
    for number, content in enumerate(DOCKERFILES, start=1):
        await DockerfileVersion.create(
            app=app, number=number, content=content, author="dev", message=f"version {number}"
        )
    ciphertext = world.runtime.secret_box.encrypt("hunter2")
    await AppSecret.create(app=app, name="API_KEY", ciphertext=ciphertext, updated_by="dev")
    token = world.runtime.secret_box.encrypt(json.dumps({"token": "old-t0ken"}))
    await SourceCredential.create(
        app=app,
        kind="token",
        origin=source_origin(SOURCE_REPO),
        username="ci",
        ciphertext=token,
        updated_by="dev",
    )
    return app


async def a_release(world: World, status: ReleaseStatus) -> Release:
    """Release #1 of `shop`, made directly: no step runs unless the case adds one."""
    app = await an_app(world)
    return await Release.create(
        app=app,
        number=1,
        dockerfile_version=await DockerfileVersion.get(app=app, number=1),
        trigger="dockerfile",
        created_by="dev",
        status=status,
        commit_sha=PUSHED_SHA,
    )


async def shop_gid(world: World, caller: str) -> str:
    return gid("App", await an_app(world))


async def create_app_input(world: World, caller: str) -> dict[str, Any]:
    return {
        "project": gid("Project", world.web),
        "name": "fresh",
        "sourceRepo": SOURCE_REPO,
    }


async def create_app_verify(world: World, caller: str, changed: bool) -> None:
    assert await App.exists(name="fresh") is changed


async def update_app_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": await shop_gid(world, caller), "replicas": 3}


async def update_app_verify(world: World, caller: str, changed: bool) -> None:
    assert (await App.get(name=SHOP)).replicas == (3 if changed else 1)


async def delete_app_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": await shop_gid(world, caller)}


async def delete_app_verify(world: World, caller: str, changed: bool) -> None:
    assert await App.exists(name=SHOP) is not changed
    # Its Dockerfile versions and secrets go with it.
    assert await DockerfileVersion.all().count() == (0 if changed else 2)
    assert await AppSecret.all().count() == (0 if changed else 1)


async def set_secret_input(world: World, caller: str) -> dict[str, Any]:
    return {"app": await shop_gid(world, caller), "name": "DB_PASSWORD", "value": "s3cr3t"}


async def set_secret_verify(world: World, caller: str, changed: bool) -> None:
    secrets = await AppSecret.all().order_by("name")
    assert [secret.name for secret in secrets] == (
        ["API_KEY", "DB_PASSWORD"] if changed else ["API_KEY"]
    )
    assert all("s3cr3t" not in secret.ciphertext for secret in secrets)


async def delete_secret_input(world: World, caller: str) -> dict[str, Any]:
    return {"app": await shop_gid(world, caller), "name": "API_KEY"}


async def delete_secret_verify(world: World, caller: str, changed: bool) -> None:
    assert await AppSecret.exists(name="API_KEY") is not changed


async def set_source_credential_input(world: World, caller: str) -> dict[str, Any]:
    return {"app": await shop_gid(world, caller), "username": "bot", "token": "new-t0ken"}


async def set_source_credential_verify(world: World, caller: str, changed: bool) -> None:
    credential = await SourceCredential.get()
    assert credential.username == ("bot" if changed else "ci")
    assert "t0ken" not in credential.ciphertext


async def delete_source_credential_input(world: World, caller: str) -> dict[str, Any]:
    return {"app": await shop_gid(world, caller)}


async def delete_source_credential_verify(world: World, caller: str, changed: bool) -> None:
    assert await SourceCredential.exists() is not changed


# Mutations: config files, project variables and pods.


async def put_file_input(world: World, caller: str) -> dict[str, Any]:
    return {
        "app": await shop_gid(world, caller),
        "name": "app.yaml",
        "mountPath": "/config/app.yaml",
        "content": "port: 8080\n",
    }


async def put_file_verify(world: World, caller: str, changed: bool) -> None:
    assert await AppFile.exists(name="app.yaml") is changed


async def an_app_file(world: World, caller: str) -> dict[str, Any]:
    app = await an_app(world)
    await AppFile.create(
        app=app,
        name="old.yaml",
        mount_path="/config/old.yaml",
        content="a: 1\n",
        size=5,
        updated_by="dev",
    )
    return {"app": gid("App", app), "name": "old.yaml"}


async def delete_file_verify(world: World, caller: str, changed: bool) -> None:
    assert await AppFile.exists(name="old.yaml") is not changed


async def set_variable_input(world: World, caller: str) -> dict[str, Any]:
    return {"project": gid("Project", world.web), "name": "REGION", "value": "eu"}


async def set_secret_variable_input(world: World, caller: str) -> dict[str, Any]:
    return {**await set_variable_input(world, caller), "value": "s3cr3t", "isSecret": True}


async def set_variable_verify(world: World, caller: str, changed: bool) -> None:
    variables = await ProjectVariable.all()
    assert [v.name for v in variables] == (["REGION"] if changed else [])
    assert all("s3cr3t" not in v.value for v in variables)


async def a_project_variable(world: World, caller: str) -> dict[str, Any]:
    await ProjectVariable.create(
        project=world.web, name="OLD", is_secret=False, value="x", updated_by="dev"
    )
    return {"project": gid("Project", world.web), "name": "OLD"}


async def delete_variable_verify(world: World, caller: str, changed: bool) -> None:
    assert await ProjectVariable.exists(name="OLD") is not changed


DELETED_PODS: list[str] = []


async def delete_pod_input(world: World, caller: str) -> dict[str, Any]:
    DELETED_PODS.clear()
    return {"app": await shop_gid(world, caller), "name": "shop-1"}


async def delete_pod_verify(world: World, caller: str, changed: bool) -> None:
    assert (["web/shop/shop-1"] if changed else []) == DELETED_PODS


async def shop_with_a_file(world: World, caller: str) -> dict[str, Any]:
    await an_app_file(world, caller)
    return {"project": gid("Project", world.web)}


async def shop_app_id(world: World, caller: str) -> dict[str, Any]:
    return {"app": await shop_gid(world, caller)}


# Mutations: Dockerfiles and releases.


async def save_dockerfile_input(world: World, caller: str) -> dict[str, Any]:
    content = f"FROM {BASE_IMAGE}\nUSER nobody\nENV MATRIX=1\n"
    return {"app": await shop_gid(world, caller), "content": content, "message": "matrix"}


async def save_dockerfile_verify(world: World, caller: str, changed: bool) -> None:
    versions = await DockerfileVersion.all().order_by("number")
    assert [version.number for version in versions] == ([1, 2, 3] if changed else [1, 2])
    assert versions[-1].author == (USERNAMES[caller] if changed else "dev")
    releases = await Release.all()
    assert len(releases) == (1 if changed else 0)
    if changed:
        # Saving started a release, which the engine runs in the background. Let it end,
        # so that no step still holds the release's lock when the next case empties the
        # tables.
        await wait_for_release(releases[0].id)


async def running_release_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("Release", await a_release(world, ReleaseStatus.RUNNING))}


async def cancel_release_verify(world: World, caller: str, changed: bool) -> None:
    status = (await Release.get()).status
    assert status is (ReleaseStatus.CANCELLED if changed else ReleaseStatus.RUNNING)


async def failed_release_input(world: World, caller: str) -> dict[str, Any]:
    release = await a_release(world, ReleaseStatus.FAILED)
    await ReleaseStep.create(
        release=release, position=0, name="commit", state=StepState.SUCCEEDED, attempts=1
    )
    await ReleaseStep.create(
        release=release, position=1, name="await-push", state=StepState.FAILED, attempts=1
    )
    # The push came after all: retried, the release ends at once (and leaves the engine idle).
    await GitPush.create(sha=PUSHED_SHA)
    return {"id": gid("Release", release)}


async def retry_release_verify(world: World, caller: str, changed: bool) -> None:
    release = await Release.get()
    if not changed:
        assert release.status is ReleaseStatus.FAILED
        assert not await ReleaseEvent.exists()
        return
    retried = f"retried from step await-push by {USERNAMES[caller]}"
    assert await ReleaseEvent.exists(release=release, message=retried)
    assert (await wait_for_release(release.id)).status is ReleaseStatus.SUCCEEDED


async def rollback_input(world: World, caller: str) -> dict[str, Any]:
    release = await a_release(world, ReleaseStatus.SUCCEEDED)
    await Release.filter(id=release.id).update(
        image=f"{REGISTRY_HOST}/web/shop:r1-abababababab", digest="sha256:" + "cd" * 32
    )
    return {"app": gid("App", release.app), "release": gid("Release", release)}


async def rollback_verify(world: World, caller: str, changed: bool) -> None:
    rollbacks = await Release.filter(trigger="rollback to #1")
    assert len(rollbacks) == (1 if changed else 0)
    if changed:
        assert rollbacks[0].digest == "sha256:" + "cd" * 32
        # Let it end (its image does not exist), so no step holds a lock later.
        await wait_for_release(rollbacks[0].id)


async def deploy_input(world: World, caller: str) -> dict[str, Any]:
    source = world.runtime.deploy.probe
    if isinstance(source, FakeSourceRepos):  # on the real components it is served for real
        source.forget()
        source.push(SOURCE_REPO)
    return {"app": await shop_gid(world, caller)}


async def deploy_verify(world: World, caller: str, changed: bool) -> None:
    deployed = await Release.filter(trigger="deploy main")
    assert len(deployed) == (1 if changed else 0)
    if changed:
        await wait_for_release(deployed[0].id)


async def new_webhook_secret_verify(world: World, caller: str, changed: bool) -> None:
    app = await App.get(name=SHOP)
    assert (app.source_webhook_ciphertext is not None) is changed


# Mutations: webhooks.


async def a_webhook_delivery(world: World) -> WebhookDelivery:
    """A signed ping as the git server sent it; redelivering it answers pong."""
    return await WebhookDelivery.create(
        source="git",
        event="ping",
        delivery_id="matrix-1",
        dedupe_key="git:matrix-1",
        signature_ok=True,
        outcome=DeliveryOutcome.ACCEPTED,
        detail="pong",
        body="{}",
        headers={"x-github-event": "ping", "x-github-delivery": "matrix-1"},
    )


async def redeliver_input(world: World, caller: str) -> dict[str, Any]:
    return {"id": gid("WebhookDelivery", await a_webhook_delivery(world))}


async def redeliver_verify(world: World, caller: str, changed: bool) -> None:
    copies = await WebhookDelivery.filter(redelivery_of_id__isnull=False).count()
    assert copies == (1 if changed else 0)


# Queries.


async def caller_and_bystander_tokens(world: World, caller: str) -> dict[str, Any]:
    person = world.person(caller)
    if person is not None:
        await make_token(person, "mine")
    await make_token(world.bystander, "theirs")
    return {}


async def an_audit_event(world: World, caller: str) -> dict[str, Any]:
    await world.runtime.rbac.audit.record("root", "matrix.marker", "project:web")
    return {}


def node_of(lookup: Callable[[World, str], Awaitable[str]]) -> Arrange:
    async def arrange(world: World, caller: str) -> dict[str, Any]:
        return {"id": await lookup(world, caller)}

    return arrange


async def web_gid(world: World, caller: str) -> str:
    return gid("Project", world.web)


async def bystander_membership_gid(world: World, caller: str) -> str:
    return gid("Member", await Membership.get(project=world.web, user=world.bystander.user))


async def bystander_gid(world: World, caller: str) -> str:
    return world.bystander.gid


async def viewer_role_gid(world: World, caller: str) -> str:
    return gid("Role", await Role.get(name="viewer"))


async def own_token_gid(world: World, caller: str) -> str:
    return gid("ApiToken", await make_token(world.acting_user(caller), "mine"))


async def bystanders_token_gid(world: World, caller: str) -> str:
    return gid("ApiToken", await make_token(world.bystander, "theirs"))


async def audit_event_gid(world: World, caller: str) -> str:
    return gid("AuditEvent", await world.runtime.rbac.audit.record("root", "matrix.marker", "x"))


async def shop_and_its_release(world: World, caller: str) -> dict[str, Any]:
    await a_release(world, ReleaseStatus.SUCCEEDED)
    return {"project": gid("Project", world.web)}


async def two_dockerfile_versions(world: World, caller: str) -> dict[str, Any]:
    app = await an_app(world)
    versions = await DockerfileVersion.filter(app=app).order_by("number")
    return {
        "from": gid("DockerfileVersion", versions[0]),
        "to": gid("DockerfileVersion", versions[1]),
    }


async def some_webhook_delivery(world: World, caller: str) -> dict[str, Any]:
    await a_webhook_delivery(world)
    return {}


async def dockerfile_version_gid(world: World, caller: str) -> str:
    app = await an_app(world)
    return gid("DockerfileVersion", await DockerfileVersion.get(app=app, number=2))


async def release_gid(world: World, caller: str) -> str:
    return gid("Release", await a_release(world, ReleaseStatus.SUCCEEDED))


async def webhook_delivery_gid(world: World, caller: str) -> str:
    return gid("WebhookDelivery", await a_webhook_delivery(world))


# Subscriptions: `after` is the cursor before the first event, so a stored event
# replays at once.


async def a_release_event(world: World) -> Release:
    release = await a_release(world, ReleaseStatus.RUNNING)
    await ReleaseEvent.create(
        release=release, app_id=release.app.id, project="web", state="running", message=MARKER
    )
    return release


async def events_of_release(world: World, caller: str) -> dict[str, Any]:
    release = await a_release_event(world)
    return {"release": gid("Release", release), "after": encode_cursor(0)}


async def events_of_app(world: World, caller: str) -> dict[str, Any]:
    release = await a_release_event(world)
    return {"app": gid("App", release.app), "after": encode_cursor(0)}


async def a_build_log(world: World, caller: str) -> dict[str, Any]:
    release = await a_release(world, ReleaseStatus.SUCCEEDED)
    await BuildLogLine.create(release=release, step="build", seq=1, text=MARKER)
    return {"release": gid("Release", release), "after": encode_cursor(0)}


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def a_span_of_web() -> None:
    await Span.create(
        trace_id=TRACE_ID,
        span_id="00f067aa0ba902b7",
        name=MARKER,
        kind="internal",
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_000_001_000_000_000,
        status="ok",
        project="web",
        app="shop",
    )


async def a_trace(world: World, caller: str) -> dict[str, Any]:
    await a_span_of_web()
    return {"id": TRACE_ID}


async def spans_of_a_trace(world: World, caller: str) -> dict[str, Any]:
    await a_span_of_web()
    return {"id": TRACE_ID, "after": encode_cursor(0)}


# Install-manager: the local profile's one component, the registry. The registry the
# tests run already answers, so an install finds it and records it as ready.


async def registry_component_input(world: World, caller: str) -> dict[str, Any]:
    return {"name": "registry"}


async def install_all_input(world: World, caller: str) -> dict[str, Any]:
    return {"components": None}


async def component_recorded(world: World, caller: str, changed: bool) -> None:
    await world.runtime.install.idle()  # the install runs in the background
    assert await Component.exists(name="registry") is changed


async def an_install_event_soon(world: World, caller: str) -> dict[str, Any]:
    event = InstallEvent("registry", ComponentStatus.READY, MARKER)
    loop = asyncio.get_running_loop()
    # Live events are not replayed, and on a busy machine the subscription may start
    # later than any one moment: the event comes again every 0.3 s until it has ended.
    for n in range(1, int(SUBSCRIPTION_TIMEOUT / 0.3) + 1):
        world.scheduled.append(
            loop.call_later(0.3 * n, world.runtime.bus.publish, INSTALL_TOPIC, event)
        )
    return {}


async def audit_events_from_start(world: World, caller: str) -> dict[str, Any]:
    await an_audit_event(world, caller)
    return {"after": encode_cursor(0)}


NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def node_seen(world: World, caller: str, value: Any) -> bool:
    return value is not None


def node_query(variant: str, lookup: Callable[[World, str], Awaitable[str]]) -> QueryOp:
    return QueryOp("node", NODE, node_seen, node_of(lookup), variant=variant)


SIGN_UP = MutationOp("signUp", "SignUpInput", "SignUpSuccess", sign_up_input, sign_up_verify)
LOGIN = MutationOp("login", "LoginInput", "Tokens", login_input, login_verify)
REFRESH = MutationOp("refreshToken", "RefreshTokenInput", "Tokens", refresh_input, refresh_verify)
CHANGE_PASSWORD = MutationOp(
    "changePassword", "ChangePasswordInput", "Tokens", change_password_input, change_password_verify
)
CREATE_PROJECT = MutationOp(
    "createProject",
    "CreateProjectInput",
    "ProjectSuccess",
    create_project_input,
    create_project_verify,
)
UPDATE_PROJECT = MutationOp(
    "updateProject",
    "UpdateProjectInput",
    "ProjectSuccess",
    update_project_input,
    update_project_verify,
)
DELETE_PROJECT = MutationOp(
    "deleteProject",
    "DeleteProjectInput",
    "DeleteProjectSuccess",
    delete_project_input,
    delete_project_verify,
)
DELETE_PROJECT_WITH_APPS = MutationOp(
    "deleteProject",
    "DeleteProjectInput",
    "DeleteProjectSuccess",
    delete_project_with_apps_input,
    delete_project_with_apps_verify,
    variant="with_apps",
)
ADD_MEMBER = MutationOp(
    "addProjectMember", "MemberInput", "MemberSuccess", add_member_input, add_member_verify
)
SET_MEMBER_ROLE = MutationOp(
    "setProjectMemberRole",
    "MemberInput",
    "MemberSuccess",
    set_member_role_input,
    set_member_role_verify,
)
REMOVE_MEMBER = MutationOp(
    "removeProjectMember",
    "RemoveMemberInput",
    "RemoveMemberSuccess",
    remove_member_input,
    remove_member_verify,
)
APPROVE_USER = MutationOp(
    "approveUser", "UserInput", "UserSuccess", pending_user_input, approve_verify
)
DISABLE_USER = MutationOp(
    "disableUser", "UserInput", "UserSuccess", bystander_input, disable_verify
)
ENABLE_USER = MutationOp(
    "enableUser", "UserInput", "UserSuccess", disabled_user_input, enable_verify
)
DELETE_USER = MutationOp(
    "deleteUser", "UserInput", "DeleteUserSuccess", bystander_input, delete_user_verify
)
RESET_PASSWORD = MutationOp(
    "resetUserPassword",
    "ResetPasswordInput",
    "UserSuccess",
    reset_password_input,
    reset_password_verify,
)
SET_ADMIN = MutationOp(
    "setUserAdmin", "SetUserAdminInput", "UserSuccess", set_admin_input, set_admin_verify
)
CREATE_ROLE = MutationOp(
    "createRole", "CreateRoleInput", "RoleSuccess", create_role_input, create_role_verify
)
UPDATE_ROLE = MutationOp(
    "updateRole", "UpdateRoleInput", "RoleSuccess", update_role_input, update_role_verify
)
DELETE_ROLE = MutationOp(
    "deleteRole", "DeleteRoleInput", "DeleteRoleSuccess", delete_role_input, delete_role_verify
)
CREATE_TOKEN = MutationOp(
    "createApiToken",
    "CreateApiTokenInput",
    "CreateApiTokenSuccess",
    create_token_input,
    create_token_verify,
)
REVOKE_OWN_TOKEN = MutationOp(
    "revokeApiToken",
    "RevokeApiTokenInput",
    "RevokeApiTokenSuccess",
    own_token_input,
    revoked_verify,
    variant="own",
)
REVOKE_OWN_SESSION = MutationOp(
    "revokeSession",
    "RevokeSessionInput",
    "RevokeSessionSuccess",
    own_session_input,
    session_ended_verify,
    variant="own",
)
REVOKE_OTHERS_SESSION = MutationOp(
    "revokeSession",
    "RevokeSessionInput",
    "RevokeSessionSuccess",
    bystanders_session_input,
    session_ended_verify,
    variant="someone_elses",
)
LOGOUT = MutationOp("logout", "LogoutInput", "LogoutSuccess", logout_input, session_ended_verify)
REVOKE_OTHERS_TOKEN = MutationOp(
    "revokeApiToken",
    "RevokeApiTokenInput",
    "RevokeApiTokenSuccess",
    bystanders_token_input,
    revoked_verify,
    variant="someone_elses",
)

ME = QueryOp(
    "me", "{ me { username } }", lambda world, caller, me: me["username"] == USERNAMES[caller]
)
PROJECTS = QueryOp(
    "projects",
    "{ projects { edges { node { name } } } }",
    lambda world, caller, projects: "web" in names(projects, "name"),
)
PROJECT = QueryOp(
    "project",
    '{ project(name: "web") { name members { edges { node { user { username } } } } } }',
    lambda world, caller, project: (
        project is not None and BYSTANDER in names(project["members"], "user", "username")
    ),
)
CO_MEMBER_PROJECTS = QueryOp(
    "project",
    """{ project(name: "web") { members { edges { node { user {
         username memberships { edges { node { project { name } } } } } } } } } }""",
    lambda world, caller, project: (
        project is not None
        and "api"
        in [
            name
            for user in names(project["members"], "user")
            if user["username"] == BYSTANDER
            for name in names(user["memberships"], "project", "name")
        ]
    ),
    variant="co_members_projects",
)
USERS = QueryOp(
    "users",
    "{ users { edges { node { username } } } }",
    lambda world, caller, users: BYSTANDER in names(users, "username"),
)
ROLES = QueryOp(
    "roles",
    "{ roles { edges { node { name policies { action } } } } }",
    lambda world, caller, roles: "viewer" in names(roles, "name"),
)
API_TOKENS = QueryOp(
    "apiTokens",
    "{ apiTokens { edges { node { name } } } }",
    # Your own tokens, and never anybody else's.
    lambda world, caller, tokens: names(tokens, "name") == ["mine"],
    arrange=caller_and_bystander_tokens,
)
SESSIONS = QueryOp(
    "sessions",
    "{ sessions { edges { node { userAgent } } } }",
    # Your own sessions, and never anybody else's.
    lambda world, caller, sessions: names(sessions, "userAgent") == ["mine"],
    arrange=caller_and_bystander_sessions,
)
AUDIT_EVENTS = QueryOp(
    "auditEvents",
    "{ auditEvents { edges { node { action } } } }",
    lambda world, caller, events: "matrix.marker" in names(events, "action"),
    arrange=an_audit_event,
)

CREATE_APP = MutationOp(
    "createApp", "CreateAppInput", "AppSuccess", create_app_input, create_app_verify
)
UPDATE_APP = MutationOp(
    "updateApp", "UpdateAppInput", "AppSuccess", update_app_input, update_app_verify
)
DELETE_APP = MutationOp(
    "deleteApp", "DeleteAppInput", "DeleteAppSuccess", delete_app_input, delete_app_verify
)
SET_APP_SECRET = MutationOp(
    "setAppSecret", "SetAppSecretInput", "AppSuccess", set_secret_input, set_secret_verify
)
SET_SOURCE_CREDENTIAL = MutationOp(
    "setSourceCredential",
    "SetSourceCredentialInput",
    "AppSuccess",
    set_source_credential_input,
    set_source_credential_verify,
)
DELETE_SOURCE_CREDENTIAL = MutationOp(
    "deleteSourceCredential",
    "DeleteSourceCredentialInput",
    "AppSuccess",
    delete_source_credential_input,
    delete_source_credential_verify,
)
DELETE_APP_SECRET = MutationOp(
    "deleteAppSecret",
    "DeleteAppSecretInput",
    "AppSuccess",
    delete_secret_input,
    delete_secret_verify,
)
SAVE_DOCKERFILE = MutationOp(
    "saveDockerfile",
    "SaveDockerfileInput",
    "SaveDockerfileSuccess",
    save_dockerfile_input,
    save_dockerfile_verify,
)
CANCEL_RELEASE = MutationOp(
    "cancelRelease", "ReleaseInput", "ReleaseSuccess", running_release_input, cancel_release_verify
)
RETRY_RELEASE = MutationOp(
    "retryRelease", "ReleaseInput", "ReleaseSuccess", failed_release_input, retry_release_verify
)
ROLLBACK = MutationOp(
    "rollback", "RollbackInput", "ReleaseSuccess", rollback_input, rollback_verify
)
DEPLOY_APP = MutationOp(
    "deployApp", "DeployAppInput", "ReleaseSuccess", deploy_input, deploy_verify
)
NEW_SOURCE_WEBHOOK_SECRET = MutationOp(
    "newSourceWebhookSecret",
    "NewSourceWebhookSecretInput",
    "SourceWebhookSecretSuccess",
    delete_source_credential_input,
    new_webhook_secret_verify,
)
REDELIVER_WEBHOOK = MutationOp(
    "redeliverWebhook",
    "RedeliverWebhookInput",
    "RedeliverWebhookSuccess",
    redeliver_input,
    redeliver_verify,
)


PUT_APP_FILE = MutationOp(
    "putAppFile", "PutAppFileInput", "AppConfigSuccess", put_file_input, put_file_verify
)
DELETE_APP_FILE = MutationOp(
    "deleteAppFile", "DeleteAppFileInput", "AppConfigSuccess", an_app_file, delete_file_verify
)
SET_PROJECT_VARIABLE = MutationOp(
    "setProjectVariable",
    "SetProjectVariableInput",
    "ProjectConfigSuccess",
    set_variable_input,
    set_variable_verify,
)
SET_PROJECT_SECRET = MutationOp(
    "setProjectVariable",
    "SetProjectVariableInput",
    "ProjectConfigSuccess",
    set_secret_variable_input,
    set_variable_verify,
    variant="secret",
)
DELETE_PROJECT_VARIABLE = MutationOp(
    "deleteProjectVariable",
    "DeleteProjectVariableInput",
    "ProjectConfigSuccess",
    a_project_variable,
    delete_variable_verify,
)
DELETE_POD = MutationOp(
    "deletePod", "DeletePodInput", "DeletePodSuccess", delete_pod_input, delete_pod_verify
)


def shop(apps: dict[str, Any] | None) -> dict[str, Any] | None:
    """The app `shop` in an `apps` connection, if it is there."""
    return next((app for app in names(apps) if app["name"] == SHOP), None)


APPS_OF_WEB = "query($project: ID!) { apps(project: $project) { edges { node { name %s } } } }"
APPS = QueryOp(
    "apps",
    APPS_OF_WEB % "",
    lambda world, caller, apps: shop(apps) is not None,
    arrange=shop_and_its_release,
    not_null=True,
)
APP_DOCKERFILE_VERSIONS = QueryOp(
    "apps",
    APPS_OF_WEB % "dockerfile { number } dockerfileVersions { edges { node { number content } } }",
    lambda world, caller, apps: (
        (app := shop(apps)) is not None
        and app["dockerfile"]["number"] == 2
        and names(app["dockerfileVersions"], "content") == list(reversed(DOCKERFILES))
    ),
    arrange=shop_and_its_release,
    variant="dockerfile_versions",
    not_null=True,
)
APP_RELEASES = QueryOp(
    "apps",
    APPS_OF_WEB % "releases { edges { node { number status dockerfileVersion { number } } } }",
    lambda world, caller, apps: (
        (app := shop(apps)) is not None
        and names(app["releases"])
        == [{"number": 1, "status": "SUCCEEDED", "dockerfileVersion": {"number": 1}}]
    ),
    arrange=shop_and_its_release,
    variant="releases",
    not_null=True,
)
APP_SECRET_STATUS = QueryOp(
    "apps",
    APPS_OF_WEB % "secrets { name isSet updatedBy }",
    # Whether a secret is set and by whom; its value has no field at all.
    lambda world, caller, apps: (
        (app := shop(apps)) is not None
        and app["secrets"] == [{"name": "API_KEY", "isSet": True, "updatedBy": "dev"}]
    ),
    arrange=shop_and_its_release,
    variant="secret_status",
    not_null=True,
)
APP_SOURCE_CREDENTIAL = QueryOp(
    "apps",
    APPS_OF_WEB % "sourceCredential { kind username updatedBy }",
    # Which credential is set and by whom; its token has no field at all.
    lambda world, caller, apps: (
        (app := shop(apps)) is not None
        and app["sourceCredential"] == {"kind": "token", "username": "ci", "updatedBy": "dev"}
    ),
    arrange=shop_and_its_release,
    variant="source_credential",
    not_null=True,
)
DOCKERFILE_DIFF = QueryOp(
    "dockerfileDiff",
    "query($from: ID!, $to: ID!) { dockerfileDiff(fromVersion: $from, toVersion: $to) }",
    lambda world, caller, diff: (
        diff is not None and f" FROM {BASE_IMAGE}" in diff and "+USER nobody" in diff
    ),
    arrange=two_dockerfile_versions,
    not_null=True,
)
WEBHOOK_DELIVERIES = QueryOp(
    "webhookDeliveries",
    '{ webhookDeliveries(filter: {source: "git"}) { edges { node { deliveryId } } } }',
    lambda world, caller, deliveries: "matrix-1" in names(deliveries, "deliveryId"),
    arrange=some_webhook_delivery,
)

APP_FILES = QueryOp(
    "apps",
    APPS_OF_WEB % "files { name mountPath content }",
    lambda world, caller, apps: (
        (app := shop(apps)) is not None and [f["name"] for f in app["files"]] == ["old.yaml"]
    ),
    arrange=shop_with_a_file,
    variant="files",
    not_null=True,
)
PROJECT_VARIABLES = QueryOp(
    "project",
    '{ project(name: "web") { variables { name value } } }',
    lambda world, caller, project: (
        project is not None and project["variables"] == [{"name": "OLD", "value": "x"}]
    ),
    arrange=a_project_variable,
    variant="variables",
)
APP_RESOURCES = QueryOp(
    "appResources",
    "query($app: ID!) { appResources(app: $app) { kind name status } }",
    lambda world, caller, found: found == [{"kind": "Pod", "name": "shop-1", "status": MARKER}],
    arrange=shop_app_id,
    not_null=True,
)
APP_LOGS = SubscriptionOp(
    "appLogs",
    "subscription($app: ID!) { appLogs(appId: $app, follow: false) { source text } }",
    lambda world, caller, line: line == {"source": "shop-1", "text": MARKER},
    shop_app_id,
)
AUDIT_EVENT_STREAM = SubscriptionOp(
    "auditEvents",
    "subscription($after: String) { auditEvents(after: $after) { action } }",
    lambda world, caller, event: event is not None and event["action"] == "matrix.marker",
    audit_events_from_start,
    variant="subscription",
)
RELEASE_EVENTS_OF_RELEASE = SubscriptionOp(
    "releaseEvents",
    """subscription($release: ID!, $after: String) {
         releaseEvents(releaseId: $release, after: $after) { message } }""",
    lambda world, caller, event: event is not None and event["message"] == MARKER,
    events_of_release,
    variant="of_release",
)
RELEASE_EVENTS_OF_APP = SubscriptionOp(
    "releaseEvents",
    """subscription($app: ID!, $after: String) {
         releaseEvents(appId: $app, after: $after) { message } }""",
    lambda world, caller, event: event is not None and event["message"] == MARKER,
    events_of_app,
    variant="of_app",
)
BUILD_LOG = QueryOp(
    "buildLog",
    """query($release: ID!, $after: String) {
         buildLog(releaseId: $release, after: $after) { edges { node { text } } } }""",
    lambda world, caller, page: (
        page is not None and [edge["node"]["text"] for edge in page["edges"]] == [MARKER]
    ),
    arrange=a_build_log,
    not_null=True,
)
RELEASE_PLAN = QueryOp(
    "releasePlan",
    "query($release: ID!) { releasePlan(releaseId: $release) { folder files } }",
    lambda world, caller, plan: (
        plan is not None
        and plan["folder"] == "projects/web/apps/shop/manifests"
        and "deployment.yaml" in plan["files"]
    ),
    arrange=a_build_log,
    not_null=True,
)
INSTALL_COMPONENT = MutationOp(
    "installComponent",
    "ComponentInput",
    "ComponentSuccess",
    registry_component_input,
    component_recorded,
)
UNINSTALL_COMPONENT = MutationOp(
    "uninstallComponent",
    "ComponentInput",
    "ComponentSuccess",
    registry_component_input,
    component_recorded,
)
INSTALL_ALL = MutationOp(
    "installAll", "InstallAllInput", "InstallAllSuccess", install_all_input, component_recorded
)
COMPONENTS = QueryOp(
    "components",
    "{ components { name status } }",
    lambda world, caller, components: [c["name"] for c in components or []] == ["registry"],
)
INSTALL_PROGRESS = SubscriptionOp(
    "installProgress",
    "subscription { installProgress { component status message } }",
    lambda world, caller, event: event is not None and event["message"] == MARKER,
    an_install_event_soon,
)
TRACE = QueryOp(
    "trace",
    "query($id: String!) { trace(id: $id) { spans { name } } }",
    lambda world, caller, trace: (
        trace is not None and [span["name"] for span in trace["spans"]] == [MARKER]
    ),
    arrange=a_trace,
)
TRACES = QueryOp(
    "traces",
    "{ traces(first: 10) { edges { node { name project } } } }",
    lambda world, caller, page: names(page, "name") == [MARKER],
    arrange=a_trace,
)
SPAN_STREAM = SubscriptionOp(
    "spans",
    """subscription($id: String!, $after: String) {
         spans(traceId: $id, after: $after) { name } }""",
    lambda world, caller, span: span is not None and span["name"] == MARKER,
    spans_of_a_trace,
    variant="live",
)
BUILD_LOG_STREAM = SubscriptionOp(
    "buildLog",
    """subscription($release: ID!, $after: String) {
         buildLog(releaseId: $release, after: $after) { text } }""",
    lambda world, caller, line: line is not None and line["text"] == MARKER,
    a_build_log,
    variant="live",
)

# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    operation: Operation
    outcomes: dict[str, Outcome]

    def __init__(self, operation: Operation, *outcomes: Outcome) -> None:
        assert len(outcomes) == len(CALLERS), operation
        object.__setattr__(self, "operation", operation)
        object.__setattr__(self, "outcomes", dict(zip(CALLERS, outcomes, strict=True)))

    @property
    def name(self) -> str:
        return operation_name(self.operation)


def operation_name(op: Operation) -> str:
    return f"{op.field}.{op.variant}" if op.variant else op.field


# fmt: off
TABLE = (
    #     operation                     admin  maint. dev.   viewer outsid. anonymous
    # Anyone may sign up, log in and refresh; changing a password needs a password login.
    Entry(SIGN_UP,                      ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  ALLOW),
    Entry(LOGIN,                        ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  ALLOW),
    Entry(REFRESH,                      ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  ALLOW),
    Entry(CHANGE_PASSWORD,              ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  NOAUTH),
    # Any active user may create a project. Only maintainers (and admins) change one;
    # to non-members it does not exist.
    Entry(CREATE_PROJECT,               ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(UPDATE_PROJECT,               ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    Entry(DELETE_PROJECT,               ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    Entry(DELETE_PROJECT_WITH_APPS,     ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    Entry(ADD_MEMBER,                   ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    Entry(SET_MEMBER_ROLE,              ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    Entry(REMOVE_MEMBER,                ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    # User administration and custom roles are for administrators only.
    Entry(APPROVE_USER,                 ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(DISABLE_USER,                 ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(ENABLE_USER,                  ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(DELETE_USER,                  ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(RESET_PASSWORD,               ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(SET_ADMIN,                    ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(CREATE_ROLE,                  ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(UPDATE_ROLE,                  ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(DELETE_ROLE,                  ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    # Everyone manages their own API tokens; only admins revoke other people's.
    Entry(CREATE_TOKEN,                 ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(REVOKE_OWN_TOKEN,             ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(REVOKE_OTHERS_TOKEN,          ALLOW, HIDE,  HIDE,  HIDE,  HIDE,   DENY),
    # Sessions are private to their owner, admins included; a refresh token ends its own.
    Entry(LOGOUT,                       ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  ALLOW),
    Entry(REVOKE_OWN_SESSION,           ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(REVOKE_OTHERS_SESSION,        HIDE,  HIDE,  HIDE,  HIDE,  HIDE,   DENY),
    # Developers create and change apps and set their secrets; only maintainers delete
    # an app. To non-members a project's apps do not exist.
    Entry(CREATE_APP,                   ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(UPDATE_APP,                   ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DELETE_APP,                   ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    Entry(SET_APP_SECRET,               ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DELETE_APP_SECRET,            ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(SET_SOURCE_CREDENTIAL,        ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DELETE_SOURCE_CREDENTIAL,     ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(NEW_SOURCE_WEBHOOK_SECRET,    ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    # Developers write config files and project variables; maintainers delete pods.
    Entry(PUT_APP_FILE,                 ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DELETE_APP_FILE,              ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(SET_PROJECT_VARIABLE,         ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(SET_PROJECT_SECRET,           ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DELETE_PROJECT_VARIABLE,      ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DELETE_POD,                   ALLOW, ALLOW, DENY,  DENY,  HIDE,   HIDE),
    # Developers save Dockerfiles (which starts a release), cancel and retry releases.
    Entry(SAVE_DOCKERFILE,              ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(CANCEL_RELEASE,               ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(RETRY_RELEASE,                ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(ROLLBACK,                     ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    Entry(DEPLOY_APP,                   ALLOW, ALLOW, ALLOW, DENY,  HIDE,   HIDE),
    # The webhook inspector is for administrators only.
    Entry(REDELIVER_WEBHOOK,            ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    # Installing the platform's dependencies is for administrators.
    Entry(INSTALL_COMPONENT,            ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(UNINSTALL_COMPONENT,          ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(INSTALL_ALL,                  ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    # Queries.
    Entry(ME,                           ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(PROJECTS,                     ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(PROJECT,                      ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    # Members see each other, but not which other projects a co-member belongs to.
    Entry(CO_MEMBER_PROJECTS,           ALLOW, DENY,  DENY,  DENY,  HIDE,   DENY),
    Entry(USERS,                        ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(ROLES,                        ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(API_TOKENS,                   ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(SESSIONS,                     ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    Entry(AUDIT_EVENTS,                 ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    # Members read a project's apps, their Dockerfile versions, releases and which
    # secrets are set (never a value).
    Entry(APPS,                         ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(APP_DOCKERFILE_VERSIONS,      ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(APP_RELEASES,                 ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(APP_SECRET_STATUS,            ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(APP_SOURCE_CREDENTIAL,        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(DOCKERFILE_DIFF,              ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(APP_FILES,                    ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(PROJECT_VARIABLES,            ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    # Every member sees what runs and its logs (secrets masked).
    Entry(APP_RESOURCES,                ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(WEBHOOK_DELIVERIES,           ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    # Build logs are read by every member (secrets in them are masked).
    Entry(BUILD_LOG,                    ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(RELEASE_PLAN,                 ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    # Every user sees which dependencies are installed (no secret is in them).
    Entry(COMPONENTS,                   ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  DENY),
    # Traces are read by every member of the project their spans name.
    Entry(TRACE,                        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(TRACES,                       ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(node_query("project", web_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   HIDE),
    Entry(node_query("member", bystander_membership_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   HIDE),
    Entry(node_query("user", bystander_gid),
                                        ALLOW, HIDE,  HIDE,  HIDE,  HIDE,   HIDE),
    Entry(node_query("role", viewer_role_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  HIDE),
    Entry(node_query("own_api_token", own_token_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  HIDE),
    # API tokens are private to their owner; admins too only see their own.
    Entry(node_query("someone_elses_api_token", bystanders_token_gid),
                                        HIDE,  HIDE,  HIDE,  HIDE,  HIDE,   HIDE),
    Entry(node_query("own_session", own_session_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, ALLOW,  HIDE),
    Entry(node_query("someone_elses_session", bystanders_session_gid),
                                        HIDE,  HIDE,  HIDE,  HIDE,  HIDE,   HIDE),
    Entry(node_query("audit_event", audit_event_gid),
                                        ALLOW, HIDE,  HIDE,  HIDE,  HIDE,   HIDE),
    Entry(node_query("app", shop_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   HIDE),
    Entry(node_query("dockerfile_version", dockerfile_version_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   HIDE),
    Entry(node_query("release", release_gid),
                                        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   HIDE),
    Entry(node_query("webhook_delivery", webhook_delivery_gid),
                                        ALLOW, HIDE,  HIDE,  HIDE,  HIDE,   HIDE),
    # Subscriptions: the same rules as the queries they follow live.
    Entry(AUDIT_EVENT_STREAM,           ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
    Entry(RELEASE_EVENTS_OF_RELEASE,    ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(RELEASE_EVENTS_OF_APP,        ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(BUILD_LOG_STREAM,             ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(SPAN_STREAM,                  ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(APP_LOGS,                     ALLOW, ALLOW, ALLOW, ALLOW, HIDE,   DENY),
    Entry(INSTALL_PROGRESS,             ALLOW, DENY,  DENY,  DENY,  DENY,   DENY),
)
# fmt: on

CASES = [
    pytest.param(entry.operation, caller, outcome, id=f"{entry.name}-{caller}-{outcome.label}")
    for entry in TABLE
    for caller, outcome in entry.outcomes.items()
]

# An administrator's API token with the read scope only: it reads what its owner
# reads, and every change is refused.
# fmt: off
READ_ONLY_TOKEN_TABLE: tuple[tuple[Operation, Outcome], ...] = (
    (REVOKE_OWN_SESSION,                DENY),
    (CREATE_APP,                        DENY),
    (UPDATE_APP,                        DENY),
    (DELETE_APP,                        DENY),
    (SET_APP_SECRET,                    DENY),
    (DELETE_APP_SECRET,                 DENY),
    (SET_SOURCE_CREDENTIAL,             DENY),
    (DELETE_SOURCE_CREDENTIAL,          DENY),
    (NEW_SOURCE_WEBHOOK_SECRET,         DENY),
    (PUT_APP_FILE,                      DENY),
    (SET_PROJECT_SECRET,                DENY),
    (DELETE_POD,                        DENY),
    (SAVE_DOCKERFILE,                   DENY),
    (CANCEL_RELEASE,                    DENY),
    (RETRY_RELEASE,                     DENY),
    (ROLLBACK,                          DENY),
    (DEPLOY_APP,                        DENY),
    (REDELIVER_WEBHOOK,                 DENY),
    (INSTALL_COMPONENT,                 DENY),
    (UNINSTALL_COMPONENT,               DENY),
    (INSTALL_ALL,                       DENY),
    (COMPONENTS,                        ALLOW),
    (APPS,                              ALLOW),
    (APP_DOCKERFILE_VERSIONS,           ALLOW),
    (APP_RELEASES,                      ALLOW),
    (APP_SECRET_STATUS,                 ALLOW),
    (APP_SOURCE_CREDENTIAL,             ALLOW),
    (DOCKERFILE_DIFF,                   ALLOW),
    (WEBHOOK_DELIVERIES,                ALLOW),
    (RELEASE_EVENTS_OF_RELEASE,         ALLOW),
    (RELEASE_EVENTS_OF_APP,             ALLOW),
    (BUILD_LOG,                         ALLOW),
    (RELEASE_PLAN,                      ALLOW),
    (BUILD_LOG_STREAM,                  ALLOW),
    (TRACE,                             ALLOW),
    (TRACES,                            ALLOW),
    (SPAN_STREAM,                       ALLOW),
    (APP_FILES,                         ALLOW),
    (APP_RESOURCES,                     ALLOW),
    (APP_LOGS,                          ALLOW),
)
# fmt: on

READ_ONLY_TOKEN_CASES = [
    pytest.param(operation, outcome, id=f"{operation_name(operation)}-{outcome.label}")
    for operation, outcome in READ_ONLY_TOKEN_TABLE
]


# --- tests -----------------------------------------------------------------------------------


def schema_fields(root: str) -> set[str]:
    """The fields of a root type, read by introspecting the schema the server serves."""
    result = build_schema().execute_sync(f'{{ __type(name: "{root}") {{ fields {{ name }} }} }}')
    assert result.errors is None, result.errors
    assert result.data is not None
    return {field["name"] for field in result.data["__type"]["fields"]}


@pytest.mark.parametrize(
    ("root", "kind"),
    [("Mutation", MutationOp), ("Query", QueryOp), ("Subscription", SubscriptionOp)],
)
def test_the_table_covers_every_field_of_the_schema(root: str, kind: type[Operation]) -> None:
    in_schema = schema_fields(root)
    in_table = {entry.operation.field for entry in TABLE if isinstance(entry.operation, kind)}
    assert in_schema - in_table == set(), f"{root} fields without an entry in TABLE"
    assert in_table - in_schema == set(), f"TABLE entries for fields {root} does not have"


def test_case_ids_are_unique() -> None:
    for cases in (CASES, READ_ONLY_TOKEN_CASES):
        ids = [case.id for case in cases]
        assert len(ids) == len(set(ids))


@pytest.fixture(autouse=True)
def one_pod_of_shop_runs(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is about who may ask; what the deployers answer is their own tests'
    business, so here the deployer answers as if one pod of `shop` ran."""

    async def app_resources(project: str, app: str) -> list[AppResource]:
        return [AppResource(kind="Pod", name=f"{app}-1", status=MARKER)]

    async def app_logs(
        project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncIterator[AppLogLine]:
        yield AppLogLine(f"{app}-1", MARKER)

    async def delete_instance(project: str, app: str, name: str) -> None:
        DELETED_PODS.append(f"{project}/{app}/{name}")

    deployer = runtime.deploy.deployer
    monkeypatch.setattr(deployer, "app_resources", app_resources)
    monkeypatch.setattr(deployer, "app_logs", app_logs)
    monkeypatch.setattr(deployer, "delete_instance", delete_instance)


@pytest.mark.parametrize(("operation", "caller", "outcome"), CASES)
async def test_access(
    gql: GraphQLClient,
    factory: Factory,
    runtime: Runtime,
    operation: Operation,
    caller: str,
    outcome: Outcome,
) -> None:
    world = await build_world(factory, runtime)
    await operation.run(gql, world, caller, outcome)


@pytest.mark.parametrize(("operation", "outcome"), READ_ONLY_TOKEN_CASES)
async def test_a_read_only_api_token_changes_nothing(
    gql: GraphQLClient,
    factory: Factory,
    runtime: Runtime,
    operation: Operation,
    outcome: Outcome,
) -> None:
    world = await build_world(factory, runtime)
    admin = world.people["admin"].user
    secret = new_api_token()
    await ApiToken.create(
        user=admin,
        name="read-only",
        token_hash=hash_api_token(secret),
        prefix=secret[:9],
        scopes=["read"],
    )
    world.people[READ_ONLY_TOKEN] = Person(admin, secret)
    await operation.run(gql, world, READ_ONLY_TOKEN, outcome)
