"""Apps through the API: create, validate, update, delete, and secrets that never come back."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from strawberry.relay import to_base64

from home_idp.server.apps.models import App, AppSecret, DockerfileVersion
from home_idp.server.pipeline.models import Release
from home_idp.server.rbac.models import AuditEvent, Project
from home_idp.server.runtime import Runtime
from tests.components import SOURCE_REPO
from tests.deploy.flow import save_dockerfile, wait_for_release
from tests.factories import Factory, Person, project_gid
from tests.graphql import GraphQLClient, GraphQLResult
from tests.querycount import count_queries

APP = """
  id name sourceRepo sourceRef contextPath port replicas healthPath
  env { name value } project { name }
"""
RESULT = f"""
    __typename
    ... on AppSuccess {{ app {{ {APP} secrets {{ name isSet updatedBy }} }} }}
    ... on ValidationError {{ fieldErrors {{ field message }} }}
    ... on Error {{ message }}
"""
CREATE = f"mutation($input: CreateAppInput!) {{ createApp(input: $input) {{ {RESULT} }} }}"
UPDATE = f"mutation($input: UpdateAppInput!) {{ updateApp(input: $input) {{ {RESULT} }} }}"
SET_SECRET = f"""mutation($input: SetAppSecretInput!) {{
  setAppSecret(input: $input) {{ {RESULT} }}
}}"""
DELETE_SECRET = f"""mutation($input: DeleteAppSecretInput!) {{
  deleteAppSecret(input: $input) {{ {RESULT} }}
}}"""
DELETE = """mutation($input: DeleteAppInput!) {
  deleteApp(input: $input) {
    __typename
    ... on DeleteAppSuccess { deletedName }
    ... on Error { message }
  }
}"""
NODE = f"""query($id: ID!) {{
  node(id: $id) {{
    ... on App {{
      {APP}
      secrets {{ name isSet updatedBy updatedAt }}
      dockerfile {{ number content }}
      dockerfileVersions {{ edges {{ node {{ number }} }} }}
      releases {{ edges {{ node {{ number status }} }} }}
    }}
  }}
}}"""
APPS = f"""query($project: ID!, $first: Int! = 50) {{
  apps(project: $project, first: $first) {{
    totalCount edges {{ node {{ {APP} }} }}
  }}
}}"""
AUDIT = """{
  auditEvents(first: 100) { edges { node { actor action target project outcome detail } } }
}"""

REPO = SOURCE_REPO
SECRET_VALUE = "hunter2-Qx7-plaintext-of-the-secret"


@dataclass
class Team:
    project: Project
    maintainer: Person
    developer: Person
    viewer: Person
    outsider: Person

    @property
    def project_id(self) -> str:
        return project_gid(self.project)


@pytest.fixture
async def team(factory: Factory) -> Team:
    people = [await factory.user(name) for name in ("mia", "dev", "vic", "otto")]
    project = await factory.project("shop", mia="maintainer", dev="developer", vic="viewer")
    return Team(project, *people)


def app_gid(app_id: int) -> str:
    return to_base64("App", app_id)


async def create(
    gql: GraphQLClient, person: Person, project_id: str, **fields: Any
) -> dict[str, Any]:
    payload = {"project": project_id, "name": "web", "sourceRepo": REPO, **fields}
    result = await gql(CREATE, {"input": payload}, token=person.token)
    answer: dict[str, Any] = result["createApp"]
    return answer


async def create_app(gql: GraphQLClient, team: Team, **fields: Any) -> dict[str, Any]:
    answer = await create(gql, team.developer, team.project_id, **fields)
    assert answer["__typename"] == "AppSuccess", answer
    app: dict[str, Any] = answer["app"]
    return app


async def fetch(gql: GraphQLClient, person: Person, app_id: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = (await gql(NODE, {"id": app_id}, token=person.token))["node"]
    return node


async def app_events() -> list[tuple[str, str, dict[str, object]]]:
    events = await AuditEvent.filter(action__startswith="app.").order_by("id")
    return [(e.action, e.outcome, e.detail) for e in events]


# --- create -------------------------------------------------------------------------------


async def test_a_developer_creates_an_app_with_sensible_defaults(
    gql: GraphQLClient, team: Team
) -> None:
    app = await create_app(gql, team)
    assert app["name"] == "web"
    assert app["project"] == {"name": "shop"}
    assert {k: app[k] for k in ("sourceRepo", "sourceRef", "contextPath")} == {
        "sourceRepo": REPO,
        "sourceRef": "main",
        "contextPath": ".",
    }
    assert (app["port"], app["replicas"], app["healthPath"], app["env"]) == (8080, 1, "/", [])
    assert app["secrets"] == []
    # Everyone in the project sees it, in the list and by its id.
    listed = (await gql(APPS, {"project": team.project_id}, token=team.viewer.token))["apps"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [app["id"]]
    assert (await fetch(gql, team.viewer, app["id"])) is not None
    assert await app_events() == [("app.create", "ok", {})]


async def test_every_setting_can_be_given_at_creation(gql: GraphQLClient, team: Team) -> None:
    app = await create_app(
        gql,
        team,
        sourceRepo="git@github.com:shop/web.git",
        sourceRef="release/v1.2",
        contextPath="services/web/",
        port=3000,
        replicas=0,
        healthPath="/healthz?full=1",
        env=[{"name": "LOG_LEVEL", "value": "debug"}, {"name": "A_1", "value": ""}],
    )
    assert app["sourceRepo"] == "git@github.com:shop/web.git"
    assert app["sourceRef"] == "release/v1.2"
    assert app["contextPath"] == "services/web"  # normalised: no trailing slash
    assert (app["port"], app["replicas"], app["healthPath"]) == (3000, 0, "/healthz?full=1")
    assert app["env"] == [{"name": "A_1", "value": ""}, {"name": "LOG_LEVEL", "value": "debug"}]


async def test_a_second_app_with_the_same_name_is_a_conflict(
    gql: GraphQLClient, factory: Factory, team: Team
) -> None:
    first = await create_app(gql, team)
    again = await create(gql, team.maintainer, team.project_id, sourceRepo="https://x.test/r")
    assert again["__typename"] == "Conflict"
    assert "web" in again["message"]
    assert await App.all().count() == 1
    assert (await App.get(name="web")).source_repo == REPO
    assert (await fetch(gql, team.developer, first["id"])) is not None
    # The same name in another project is another app.
    other = await factory.project("blog", dev="developer")
    elsewhere = await create(gql, team.developer, project_gid(other))
    assert elsewhere["__typename"] == "AppSuccess"


async def test_viewers_may_not_create_apps_and_outsiders_do_not_see_the_project(
    gql: GraphQLClient, team: Team
) -> None:
    denied = await create(gql, team.viewer, team.project_id)
    assert denied["__typename"] == "PermissionDenied"
    hidden = await create(gql, team.outsider, team.project_id)
    assert hidden["__typename"] == "NotFound"
    assert await App.all().count() == 0


@pytest.mark.parametrize(
    "name", ["../x", "Web", "WEB", "web_app", "-web", "web-", "", "a" * 64, "web/app", "we b"]
)
async def test_names_that_are_not_dns_labels_are_refused(
    gql: GraphQLClient, team: Team, name: str
) -> None:
    answer = await create(gql, team.developer, team.project_id, name=name)
    assert answer["__typename"] == "ValidationError"
    assert [e["field"] for e in answer["fieldErrors"]] == ["name"]
    assert await App.all().count() == 0
    assert await app_events() == []


TOO_MANY_ENV = [{"name": f"VAR_{i}", "value": "x"} for i in range(101)]

BAD_SETTINGS = [
    ("sourceRepo", "file:///etc"),
    ("sourceRepo", "/srv/git/web.git"),
    ("sourceRepo", "--upload-pack=touch /tmp/pwned"),
    ("sourceRepo", "--upload-pack=x"),
    ("sourceRepo", "ext::sh"),
    ("sourceRepo", "ext::sh -c touch% /tmp/pwned"),
    ("sourceRepo", "ssh://-oProxyCommand=touch%20pwned/repo"),
    ("sourceRepo", "-oProxyCommand@host:repo"),
    ("sourceRepo", "git@-oProxyCommand:repo"),
    ("sourceRepo", "https://git.example.test:99999/web.git"),
    ("sourceRepo", ""),
    ("sourceRef", "main..evil"),
    ("sourceRef", "-x"),
    ("sourceRef", "--upload-pack=x"),
    ("sourceRef", "feature/.hidden"),
    ("sourceRef", "main.lock"),
    ("sourceRef", ""),
    ("contextPath", "../.."),
    ("contextPath", "app/../../etc"),
    ("contextPath", "/etc"),
    ("contextPath", "-rf"),
    ("port", 0),
    ("port", 70000),
    ("port", -1),
    ("replicas", -1),
    ("replicas", 51),
    ("healthPath", "healthz"),
    ("healthPath", ""),
    ("healthPath", "/with space"),
    ("env", [{"name": "A=B", "value": "1"}]),
    ("env", [{"name": "MY VAR", "value": "1"}]),
    ("env", [{"name": "1ST", "value": "1"}]),
    ("env", [{"name": "", "value": "1"}]),
    ("env", TOO_MANY_ENV),
    ("env", [{"name": "SAME", "value": "1"}, {"name": "SAME", "value": "2"}]),
]


def _case_id(case: tuple[str, object]) -> str:
    field, value = case
    text = f"{len(value)} vars" if isinstance(value, list) and len(value) > 2 else repr(value)
    return f"{field}={text}"[:60]


@pytest.mark.parametrize(("field", "value"), BAD_SETTINGS, ids=map(_case_id, BAD_SETTINGS))
async def test_a_bad_setting_is_refused_at_creation_naming_the_field(
    gql: GraphQLClient, team: Team, field: str, value: object
) -> None:
    answer = await create(gql, team.developer, team.project_id, **{field: value})
    assert answer["__typename"] == "ValidationError", answer
    assert [e["field"] for e in answer["fieldErrors"]] == [field]
    assert answer["message"].startswith(field)
    assert await App.all().count() == 0
    assert await app_events() == []


@pytest.mark.parametrize(("field", "value"), BAD_SETTINGS, ids=map(_case_id, BAD_SETTINGS))
async def test_a_bad_setting_is_refused_on_update_and_changes_nothing(
    gql: GraphQLClient, team: Team, field: str, value: object
) -> None:
    env = [{"name": "KEEP", "value": "me"}]
    before = await create_app(gql, team, port=3000, env=env)
    answer = (
        await gql(UPDATE, {"input": {"id": before["id"], field: value}}, token=team.developer.token)
    )["updateApp"]
    assert answer["__typename"] == "ValidationError", answer
    assert [e["field"] for e in answer["fieldErrors"]] == [field]
    after = await fetch(gql, team.developer, before["id"])
    assert after is not None
    assert {k: after[k] for k in before if k != "secrets"} == {
        k: v for k, v in before.items() if k != "secrets"
    }
    assert [action for action, _, _ in await app_events()] == ["app.create"]


# --- update -------------------------------------------------------------------------------


async def test_update_changes_only_the_given_fields(gql: GraphQLClient, team: Team) -> None:
    before = await create_app(
        gql, team, port=3000, healthPath="/ready", env=[{"name": "MODE", "value": "prod"}]
    )

    async def update(**fields: Any) -> dict[str, Any]:
        result = await gql(
            UPDATE, {"input": {"id": before["id"], **fields}}, token=team.developer.token
        )
        answer: dict[str, Any] = result["updateApp"]
        assert answer["__typename"] == "AppSuccess", answer
        app: dict[str, Any] = answer["app"]
        return app

    after = await update(port=9090)
    assert after == {**before, "port": 9090}
    after = await update(sourceRef="v2.0.1", replicas=3)
    assert after == {**before, "port": 9090, "sourceRef": "v2.0.1", "replicas": 3}
    # `env` replaces every plain variable; an empty list removes them all.
    after = await update(env=[{"name": "NEW", "value": "1"}])
    assert after["env"] == [{"name": "NEW", "value": "1"}]
    after = await update(env=[])
    assert after["env"] == []
    assert after["healthPath"] == "/ready"
    fetched = await fetch(gql, team.viewer, before["id"])
    assert fetched is not None
    assert {k: fetched[k] for k in after if k != "secrets"} == {
        k: v for k, v in after.items() if k != "secrets"
    }
    # The audit trail says which fields changed.
    assert [detail for action, _, detail in await app_events() if action == "app.update"] == [
        {"fields": ["port"]},
        {"fields": ["replicas", "source_ref"]},
        {"fields": ["env"]},
        {"fields": ["env"]},
    ]


async def test_viewers_may_not_update_and_outsiders_get_not_found(
    gql: GraphQLClient, team: Team
) -> None:
    app = await create_app(gql, team)
    for person, typename in ((team.viewer, "PermissionDenied"), (team.outsider, "NotFound")):
        answer = (await gql(UPDATE, {"input": {"id": app["id"], "port": 1}}, token=person.token))[
            "updateApp"
        ]
        assert answer["__typename"] == typename
    assert (await App.get(name="web")).port == 8080
    assert await fetch(gql, team.outsider, app["id"]) is None


# --- delete -------------------------------------------------------------------------------


async def test_deleting_an_app_removes_its_versions_secrets_and_releases(
    gql: GraphQLClient, team: Team
) -> None:
    created = await create_app(gql, team)
    model = await App.get(name="web")
    saved = await save_dockerfile(gql, team.developer.token, model)
    assert saved["__typename"] == "SaveDockerfileSuccess", saved
    await wait_for_release((await Release.get(app_id=model.id)).id)
    secret = {"app": created["id"], "name": "TOKEN", "value": SECRET_VALUE}
    await gql(SET_SECRET, {"input": secret}, token=team.developer.token)
    # Another app's data is left alone.
    other = await create(gql, team.developer, team.project_id, name="api")
    assert other["__typename"] == "AppSuccess"

    denied = (await gql(DELETE, {"input": {"id": created["id"]}}, token=team.developer.token))[
        "deleteApp"
    ]
    assert denied["__typename"] == "PermissionDenied"
    assert await App.exists(id=model.id)

    deleted = (await gql(DELETE, {"input": {"id": created["id"]}}, token=team.maintainer.token))[
        "deleteApp"
    ]
    assert deleted == {"__typename": "DeleteAppSuccess", "deletedName": "web"}
    assert await fetch(gql, team.maintainer, created["id"]) is None
    listed = (await gql(APPS, {"project": team.project_id}, token=team.maintainer.token))["apps"]
    assert [edge["node"]["name"] for edge in listed["edges"]] == ["api"]
    assert not await DockerfileVersion.filter(app_id=model.id).exists()
    assert not await AppSecret.filter(app_id=model.id).exists()
    assert not await Release.filter(app_id=model.id).exists()
    again = (await gql(DELETE, {"input": {"id": created["id"]}}, token=team.maintainer.token))[
        "deleteApp"
    ]
    assert again["__typename"] == "NotFound"
    assert ("app.delete", "ok", {}) in await app_events()


# --- secrets ------------------------------------------------------------------------------


async def test_a_secret_is_listed_by_name_but_its_value_never_comes_back(
    gql: GraphQLClient,
    factory: Factory,
    runtime: Runtime,
    team: Team,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await factory.user("root", admin=True)
    app = await create_app(gql, team)
    answers: list[GraphQLResult] = []

    async def call(query: str, variables: dict[str, Any], person: Person) -> GraphQLResult:
        result = await gql(query, variables, token=person.token)
        answers.append(result)
        return result

    secret = {"app": app["id"], "name": "DB_PASSWORD", "value": SECRET_VALUE}
    set_answer = (await call(SET_SECRET, {"input": secret}, team.developer))["setAppSecret"]
    assert set_answer["__typename"] == "AppSuccess"
    assert set_answer["app"]["secrets"] == [
        {"name": "DB_PASSWORD", "isSet": True, "updatedBy": "dev"}
    ]
    # Secrets are not plain environment variables.
    assert set_answer["app"]["env"] == []

    # Everything a user can ask about the app, as each kind of reader.
    for person in (team.viewer, team.developer, team.maintainer, admin):
        node = (await call(NODE, {"id": app["id"]}, person))["node"]
        assert [(s["name"], s["isSet"]) for s in node["secrets"]] == [("DB_PASSWORD", True)]
        await call(APPS, {"project": team.project_id}, person)
    await call(AUDIT, {}, admin)
    # Refusals do not echo the value either.
    bad_name = {**secret, "name": "NOT VALID"}
    refused = (await call(SET_SECRET, {"input": bad_name}, team.developer))["setAppSecret"]
    assert refused["__typename"] == "ValidationError"
    denied = (await call(SET_SECRET, {"input": secret}, team.viewer))["setAppSecret"]
    assert denied["__typename"] == "PermissionDenied"

    for answer in answers:
        assert answer.status == 200
        assert SECRET_VALUE not in answer.response.text
    # Not in the audit log, which names only the secret.
    events = await AuditEvent.all()
    assert all(SECRET_VALUE not in repr(event.detail) for event in events)
    assert ("app.set_secret", "ok", {"fields": ["DB_PASSWORD"]}) in await app_events()
    # Nor in the server's logs (including the SQL it sends).
    assert SECRET_VALUE not in caplog.text

    # Stored encrypted with the runtime's key.
    stored = await AppSecret.get(name="DB_PASSWORD")
    assert SECRET_VALUE not in stored.ciphertext
    assert runtime.secret_box.decrypt(stored.ciphertext) == SECRET_VALUE


async def test_setting_a_secret_again_replaces_it(
    gql: GraphQLClient, runtime: Runtime, team: Team
) -> None:
    app = await create_app(gql, team)
    for value in ("first-value", "second-value"):
        secret = {"app": app["id"], "name": "API_KEY", "value": value}
        answer = (await gql(SET_SECRET, {"input": secret}, token=team.maintainer.token))[
            "setAppSecret"
        ]
        assert answer["__typename"] == "AppSuccess"
        assert answer["app"]["secrets"] == [{"name": "API_KEY", "isSet": True, "updatedBy": "mia"}]
    stored = await AppSecret.filter(name="API_KEY")
    assert len(stored) == 1
    assert runtime.secret_box.decrypt(stored[0].ciphertext) == "second-value"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("A=B", "v", "name"),
        ("MY SECRET", "v", "name"),
        ("", "v", "name"),
        ("TOKEN", "", "value"),
        ("TOKEN", "x" * (64 * 1024 + 1), "value"),
    ],
    ids=["equals", "space", "empty-name", "empty-value", "too-long"],
)
async def test_a_bad_secret_is_refused_and_nothing_is_stored(
    gql: GraphQLClient, team: Team, name: str, value: str, field: str
) -> None:
    app = await create_app(gql, team)
    secret = {"app": app["id"], "name": name, "value": value}
    answer = (await gql(SET_SECRET, {"input": secret}, token=team.developer.token))["setAppSecret"]
    assert answer["__typename"] == "ValidationError"
    assert [e["field"] for e in answer["fieldErrors"]] == [field]
    assert not await AppSecret.exists()


async def test_a_secret_with_a_nul_character_is_refused_and_nothing_is_stored(
    gql: GraphQLClient, team: Team
) -> None:
    app = await create_app(gql, team)
    secret = {"app": app["id"], "name": "TOKEN", "value": "nul\x00byte"}
    result = await gql(SET_SECRET, {"input": secret}, token=team.developer.token)
    assert result.error_messages == ["text in a request may not contain the NUL character (U+0000)"]
    assert not await AppSecret.exists()


async def test_deleting_a_secret(gql: GraphQLClient, team: Team) -> None:
    app = await create_app(gql, team)
    for name in ("A", "B"):
        secret = {"app": app["id"], "name": name, "value": "v4lue"}
        await gql(SET_SECRET, {"input": secret}, token=team.developer.token)
    gone = {"app": app["id"], "name": "A"}
    answer = (await gql(DELETE_SECRET, {"input": gone}, token=team.developer.token))[
        "deleteAppSecret"
    ]
    assert answer["__typename"] == "AppSuccess"
    assert [s["name"] for s in answer["app"]["secrets"]] == ["B"]
    again = (await gql(DELETE_SECRET, {"input": gone}, token=team.developer.token))[
        "deleteAppSecret"
    ]
    assert again["__typename"] == "NotFound"
    assert "A" in again["message"]
    denied = {"app": app["id"], "name": "B"}
    answer = (await gql(DELETE_SECRET, {"input": denied}, token=team.viewer.token))[
        "deleteAppSecret"
    ]
    assert answer["__typename"] == "PermissionDenied"
    assert [s.name for s in await AppSecret.all()] == ["B"]


# --- the list costs the same for any page size --------------------------------------------

# The pipeline engine polls its job queue and reconciles waiting steps in the
# background; those statements are not the request's.
_BACKGROUND_TABLES = ('"job"', '"release_step"')


def _request_statements(statements: list[str]) -> list[str]:
    return [s for s in statements if not any(table in s for table in _BACKGROUND_TABLES)]


async def _list_query_counts(
    gql: GraphQLClient, team: Team, query: str, sizes: tuple[int, ...]
) -> dict[int, int]:
    for index in range(max(sizes)):
        await create_app(gql, team, name=f"app{index}", env=[{"name": "N", "value": str(index)}])
    counts = {}
    for first in sizes:
        with count_queries() as counter:
            result = await gql(
                query, {"project": team.project_id, "first": first}, token=team.viewer.token
            )
        assert len(result["apps"]["edges"]) == first
        counts[first] = len(_request_statements(counter.statements))
    return counts


async def test_the_apps_list_costs_the_same_queries_for_any_page_size(
    gql: GraphQLClient, team: Team
) -> None:
    counts = await _list_query_counts(gql, team, APPS, (2, 20))
    assert counts[2] == counts[20], counts
    # auth, rules (2), project, apps page, count, projects (DataLoader).
    assert counts[20] <= 8, counts


APPS_WITH_RELATED = """query($project: ID!, $first: Int!) {
  apps(project: $project, first: $first) {
    edges { node { name secrets { name } files { name } dockerfile { number } } }
  }
}"""


async def test_secrets_files_and_latest_dockerfile_in_the_list_cost_the_same_for_any_page_size(
    gql: GraphQLClient, team: Team
) -> None:
    counts = await _list_query_counts(gql, team, APPS_WITH_RELATED, (2, 20))
    assert counts[2] == counts[20], counts


async def test_two_concurrent_updates_of_different_fields_both_land(
    gql: GraphQLClient, team: Team
) -> None:
    app = await create_app(gql, team)
    updates = [{"id": app["id"], "port": 9090}, {"id": app["id"], "replicas": 4}]
    answers = await asyncio.gather(
        *(gql(UPDATE, {"input": update}, token=team.developer.token) for update in updates)
    )
    assert [a["updateApp"]["__typename"] for a in answers] == ["AppSuccess"] * 2
    fetched = await fetch(gql, team.viewer, app["id"])
    assert fetched is not None
    assert (fetched["port"], fetched["replicas"]) == (9090, 4)


async def test_two_concurrent_creates_of_one_name_give_one_app_and_a_conflict(
    gql: GraphQLClient, team: Team
) -> None:
    answers = await asyncio.gather(
        create(gql, team.developer, team.project_id),
        create(gql, team.maintainer, team.project_id),
    )
    assert sorted(a["__typename"] for a in answers) == ["AppSuccess", "Conflict"], answers
    assert await App.all().count() == 1


async def test_two_concurrent_sets_of_a_new_secret_keep_one(
    gql: GraphQLClient, runtime: Runtime, team: Team
) -> None:
    app = await create_app(gql, team)
    answers = await asyncio.gather(
        *(
            gql(SET_SECRET, {"input": {"app": app["id"], "name": "K", "value": value}}, token=t)
            for value, t in (
                ("value-one", team.developer.token),
                ("value-two", team.maintainer.token),
            )
        )
    )
    assert [a["setAppSecret"]["__typename"] for a in answers] == ["AppSuccess"] * 2
    stored = await AppSecret.filter(name="K")
    assert len(stored) == 1
    assert runtime.secret_box.decrypt(stored[0].ciphertext) in {"value-one", "value-two"}


async def test_outsiders_cannot_list_a_projects_apps(gql: GraphQLClient, team: Team) -> None:
    await create_app(gql, team)
    result = await gql(APPS, {"project": team.project_id}, token=team.outsider.token)
    assert result.data is None
    assert result.error_messages
    assert "web" not in result.response.text
