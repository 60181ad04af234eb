"""Config files and project variables through the API: checks that change nothing,
secrets that never come back, and the manifests they render."""

from __future__ import annotations

import logging
from typing import Any

import kubernetes_validate
import pytest
import yaml
from strawberry.relay import from_base64, to_base64

from home_idp.server.apps.file_fields import MAX_FILE_BYTES
from home_idp.server.apps.models import App, AppFile, DockerfileVersion, ProjectVariable
from home_idp.server.deploy.manifests import AppManifestInput, FileMount, render_manifests
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.rbac.models import AuditEvent, Membership, Policy, PolicyEffect, Role
from home_idp.server.rbac.policy import parse_rule
from tests.deploy.flow import make_app, wait_for_release
from tests.factories import Factory, Person, project_gid
from tests.graphql import GraphQLClient

ERRORS = """
    ... on ValidationError { fieldErrors { field message } }
    ... on Error { message }
"""
PUT_FILE = f"""mutation($input: PutAppFileInput!) {{
  putAppFile(input: $input) {{
    __typename
    ... on AppConfigSuccess {{ releases {{ id }} app {{ files {{ name mountPath size content }} }} }}
    {ERRORS}
  }}
}}"""
DELETE_FILE = f"""mutation($input: DeleteAppFileInput!) {{
  deleteAppFile(input: $input) {{ __typename {ERRORS} }}
}}"""
SET_VARIABLE = f"""mutation($input: SetProjectVariableInput!) {{
  setProjectVariable(input: $input) {{
    __typename
    ... on ProjectConfigSuccess {{
      releases {{ id }} project {{ variables {{ name isSecret value usedBy updatedBy }} }}
    }}
    {ERRORS}
  }}
}}"""
DELETE_VARIABLE = f"""mutation($input: DeleteProjectVariableInput!) {{
  deleteProjectVariable(input: $input) {{ __typename {ERRORS} }}
}}"""
UPDATE_APP = f"""mutation($input: UpdateAppInput!) {{
  updateApp(input: $input) {{ __typename ... on AppSuccess {{ app {{ sharedEnv }} }} {ERRORS} }}
}}"""
ENVIRONMENT = """query($id: ID!) {
  node(id: $id) { ... on App { environment { name source isSecret value overridden } } }
}"""
SECRET = "pr0ject-s3cret-value"


async def dev_and_app(factory: Factory) -> tuple[Person, App]:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    return dev, await make_app(project)


def put(app: App, **fields: Any) -> dict[str, Any]:
    values = {"name": "app.yaml", "mountPath": "/config/app.yaml", "content": "a: 1\n"}
    return {"input": {"app": to_base64("App", app.id), **values, **fields}}


@pytest.mark.parametrize(
    ("mount_path", "problem"),
    [
        ("config/app.yaml", "absolute"),
        ("/config/../etc/passwd", "'..'"),
        ("/config//app.yaml", "'//'"),
        ("/config/", "'//'"),
        ("/app.yaml", "inside a folder"),
        ("/config/a,b.yaml", "letters, digits"),
        ("/config/a b.yaml", "letters, digits"),
        ("/config/a:ro", "letters, digits"),
        ("/proc/self/environ", "system path"),
        ("/usr/bin/sh", "system path"),
        ("/etc/passwd", "system path"),
        ("/etc/resolv.conf", "system path"),
        ("/run/secrets/x", "system path"),
        ("/config/app.yaml\n", "letters, digits"),
        ("/" + "a/" * 600 + "x", "1024"),
    ],
)
async def test_bad_mount_paths_are_refused_and_change_nothing(
    gql: GraphQLClient, factory: Factory, mount_path: str, problem: str
) -> None:
    dev, app = await dev_and_app(factory)
    answer = (await gql(PUT_FILE, put(app, mountPath=mount_path), dev.token))["putAppFile"]
    assert answer["__typename"] == "ValidationError", answer
    [error] = answer["fieldErrors"]
    assert error["field"] == "mountPath"
    assert problem in error["message"]
    assert not await AppFile.exists()


async def test_file_names_sizes_and_clashing_mounts_are_checked(
    gql: GraphQLClient, factory: Factory
) -> None:
    dev, app = await dev_and_app(factory)
    for name in ("../x", "a/b", "", "..", "a b", "app.yaml\n"):
        answer = (await gql(PUT_FILE, put(app, name=name), dev.token))["putAppFile"]
        assert answer["fieldErrors"][0]["field"] == "name", (name, answer)
    too_big = "x" * (MAX_FILE_BYTES + 1)
    answer = (await gql(PUT_FILE, put(app, content=too_big), dev.token))["putAppFile"]
    assert answer["__typename"] == "ValidationError"
    assert answer["fieldErrors"][0]["field"] == "content"
    assert "1 MiB" in answer["fieldErrors"][0]["message"]
    assert not await AppFile.exists()

    # Exactly 1 MiB fits (through the request body limit too).
    full = "y" * MAX_FILE_BYTES
    answer = (await gql(PUT_FILE, put(app, content=full), dev.token))["putAppFile"]
    assert answer["__typename"] == "AppConfigSuccess", answer
    assert answer["app"]["files"][0]["size"] == MAX_FILE_BYTES
    # Another file over or under it would shadow it: a conflict, nothing stored.
    for path in ("/config/app.yaml", "/config/app.yaml/inner", "/config"):
        clash = put(app, name="other.yaml", mountPath=path)
        answer = (await gql(PUT_FILE, clash, dev.token))["putAppFile"]
        assert answer["__typename"] in {"Conflict", "ValidationError"}, (path, answer)
    assert [f.name for f in await AppFile.all()] == ["app.yaml"]

    deleted = await gql(
        DELETE_FILE, {"input": {"app": to_base64("App", app.id), "name": "app.yaml"}}, dev.token
    )
    assert deleted["deleteAppFile"]["__typename"] == "AppConfigSuccess"
    missing = await gql(
        DELETE_FILE, {"input": {"app": to_base64("App", app.id), "name": "app.yaml"}}, dev.token
    )
    assert missing["deleteAppFile"]["__typename"] == "NotFound"


async def test_project_secrets_are_never_returned_and_apps_own_values_win(
    gql: GraphQLClient, factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dev, app = await dev_and_app(factory)
    project = project_gid(await app.project)
    texts = []
    for name, value, secret in (
        ("REGION", "eu-west", False),
        ("DB_PASSWORD", SECRET, True),
        ("LOG_LEVEL", "info", False),
    ):
        result = await gql(
            SET_VARIABLE,
            {"input": {"project": project, "name": name, "value": value, "isSecret": secret}},
            dev.token,
        )
        texts.append(result.response.text)
        assert result["setProjectVariable"]["__typename"] == "ProjectConfigSuccess"
    # A plain variable cannot silently become a secret (or back).
    flip = {"project": project, "name": "REGION", "value": "x", "isSecret": True}
    answer = (await gql(SET_VARIABLE, {"input": flip}, dev.token))["setProjectVariable"]
    assert answer["__typename"] == "Conflict"
    bad = {"project": project, "name": "1BAD", "value": "x"}
    answer = (await gql(SET_VARIABLE, {"input": bad}, dev.token))["setProjectVariable"]
    assert answer["fieldErrors"][0]["field"] == "name"

    # An app can use only variables the project has.
    app_gid = to_base64("App", app.id)
    unknown = {"id": app_gid, "sharedEnv": ["REGION", "NOPE"]}
    answer = (await gql(UPDATE_APP, {"input": unknown}, dev.token))["updateApp"]
    assert answer["__typename"] == "ValidationError"
    assert "NOPE" in answer["fieldErrors"][0]["message"]
    assert (await App.get(id=app.id)).shared_env == []

    # The app's own LOG_LEVEL wins over the project's.
    await App.filter(id=app.id).update(env={"LOG_LEVEL": "debug"})
    uses = {"id": app_gid, "sharedEnv": ["REGION", "DB_PASSWORD", "LOG_LEVEL"]}
    answer = (await gql(UPDATE_APP, {"input": uses}, dev.token))["updateApp"]
    assert answer["app"]["sharedEnv"] == ["DB_PASSWORD", "LOG_LEVEL", "REGION"]
    result = await gql(ENVIRONMENT, {"id": app_gid}, dev.token)
    texts.append(result.response.text)
    assert result["node"]["environment"] == [
        {"name": "DB_PASSWORD", "source": "project", "isSecret": True, "value": None,
         "overridden": False},
        {"name": "LOG_LEVEL", "source": "app", "isSecret": False, "value": "debug",
         "overridden": False},
        {"name": "LOG_LEVEL", "source": "project", "isSecret": False, "value": "info",
         "overridden": True},
        {"name": "REGION", "source": "project", "isSecret": False, "value": "eu-west",
         "overridden": False},
    ]  # fmt: skip

    # Listing shows which apps use each variable; a secret only as "set".
    result = await gql(SET_VARIABLE, {"input": {**flip, "isSecret": False}}, dev.token)
    texts.append(result.response.text)
    variables = result["setProjectVariable"]["project"]["variables"]
    assert variables == [
        {"name": "DB_PASSWORD", "isSecret": True, "value": None, "usedBy": ["web"],
         "updatedBy": "dev"},
        {"name": "LOG_LEVEL", "isSecret": False, "value": "info", "usedBy": ["web"],
         "updatedBy": "dev"},
        {"name": "REGION", "isSecret": False, "value": "x", "usedBy": ["web"],
         "updatedBy": "dev"},
    ]  # fmt: skip

    # A variable an app uses cannot be deleted.
    gone = {"input": {"project": project, "name": "REGION"}}
    answer = (await gql(DELETE_VARIABLE, gone, dev.token))["deleteProjectVariable"]
    assert answer == {"__typename": "Conflict", "message": answer["message"]}
    assert "web" in answer["message"]
    await gql(UPDATE_APP, {"input": {"id": app_gid, "sharedEnv": []}}, dev.token)
    answer = (await gql(DELETE_VARIABLE, gone, dev.token))["deleteProjectVariable"]
    assert answer["__typename"] == "ProjectConfigSuccess"
    assert not await ProjectVariable.exists(name="REGION")

    stored = await ProjectVariable.get(name="DB_PASSWORD")
    assert SECRET not in stored.value
    assert not [text for text in texts if SECRET in text]
    audit = [str(event.detail) for event in await AuditEvent.all()]
    assert audit and not [detail for detail in audit if SECRET in detail]
    assert not [r.getMessage() for r in caplog.records if SECRET in r.getMessage()]


def test_rendered_config_files_are_valid_kubernetes_objects() -> None:
    spec = AppManifestInput(
        project="shop",
        app="web",
        release=3,
        image="127.0.0.1:5000/shop/web@sha256:" + "ab" * 32,
        port=8080,
        replicas=2,
        health_path="/",
        env={"REGION": "eu"},
        secret_names=["DB_PASSWORD"],
        files=[
            FileMount("app.yaml", "/etc/web/app.yaml", "server:\n  port: 8080\n"),
            FileMount("Feature_Flags.JSON", "/srv/flags.json", '{"new": true}'),
        ],
    )
    manifests = render_manifests(spec)
    assert sorted(manifests) == [
        "configmaps.yaml",
        "deployment.yaml",
        "namespace.yaml",
        "service.yaml",
    ]
    config_maps = list(yaml.safe_load_all(manifests["configmaps.yaml"]))
    deployment = yaml.safe_load(manifests["deployment.yaml"])
    for document in [*config_maps, deployment]:
        for version in ("1.29.0", "1.32.0"):
            kubernetes_validate.validate(document, version, strict=True)
    # Keys are file names (never paths); each file is its own ConfigMap.
    assert [list(c["data"]) for c in config_maps] == [["app.yaml"], ["Feature_Flags.JSON"]]
    assert config_maps[0]["data"]["app.yaml"] == "server:\n  port: 8080\n"
    pod = deployment["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/srv/flags.json"]["subPath"] == "Feature_Flags.JSON"
    assert all(m["readOnly"] for m in mounts.values())
    volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"]}
    assert sorted(volumes.values()) == sorted(c["metadata"]["name"] for c in config_maps)
    # The config is readable in git: a block, not an escaped string.
    assert "  app.yaml: |\n    server:\n      port: 8080\n" in manifests["configmaps.yaml"]


async def test_choosing_a_project_secret_needs_the_right_to_set_secrets(
    gql: GraphQLClient, factory: Factory
) -> None:
    # Whoever picks a secret for an app decides which image receives it.
    editor_role = await Role.create(name="app-editor", description="edits apps only")
    for resource, action in (("*", "read"), ("app", "update")):
        await Policy.create(
            role=editor_role, effect=PolicyEffect.ALLOW, resource=resource, action=action
        )
    dev, app = await dev_and_app(factory)
    ed = await factory.user("ed")
    await Membership.create(user=ed.user, project_id=app.project_id, role=editor_role)  # type: ignore[attr-defined]
    for name, secret in (("REGION", False), ("DB_PASSWORD", True)):
        await ProjectVariable.create(
            project_id=app.project_id,  # type: ignore[attr-defined]
            name=name,
            is_secret=secret,
            value="x",
            updated_by="dev",
        )
    app_gid = to_base64("App", app.id)
    plain = {"id": app_gid, "sharedEnv": ["REGION"]}
    answer = (await gql(UPDATE_APP, {"input": plain}, ed.token))["updateApp"]
    assert answer["__typename"] == "AppSuccess", answer
    with_secret = {"id": app_gid, "sharedEnv": ["REGION", "DB_PASSWORD"]}
    answer = (await gql(UPDATE_APP, {"input": with_secret}, ed.token))["updateApp"]
    assert answer["__typename"] == "PermissionDenied", answer
    assert (await App.get(id=app.id)).shared_env == ["REGION"]
    answer = (await gql(UPDATE_APP, {"input": with_secret}, dev.token))["updateApp"]
    assert answer["__typename"] == "AppSuccess", answer


@pytest.mark.parametrize("resource", ["config", "resource", "pod", "log", "secret"])
def test_custom_roles_can_name_the_running_app_resources(resource: str) -> None:
    rule = parse_rule({"effect": "deny", "resource": resource, "action": "*"})
    assert rule.resource == resource


async def test_a_config_change_ships_the_newest_image_and_waits_for_a_pending_render(
    gql: GraphQLClient, factory: Factory
) -> None:
    dev, app = await dev_and_app(factory)
    version = await DockerfileVersion.create(
        app=app, number=1, content="FROM x\n", author="dev", message="m"
    )

    async def release(number: int, status: ReleaseStatus, digest: str) -> Release:
        return await Release.create(
            app=app,
            number=number,
            dockerfile_version=version,
            trigger="dockerfile",
            created_by="dev",
            status=status,
            image=f"127.0.0.1:5000/shop/web:r{number}-abc",
            digest="sha256:" + digest * 64,
        )

    live = await release(1, ReleaseStatus.SUCCEEDED, "a")
    await App.filter(id=app.id).update(live_release_id=live.id)
    # Release #2 builds a newer image and has rendered its manifests: the config
    # change must not put release #1's image back.
    rolling = await release(2, ReleaseStatus.RUNNING, "b")
    step = await ReleaseStep.create(
        release=rolling, position=0, name="manifests", state=StepState.PENDING
    )
    answer = (await gql(PUT_FILE, put(app), dev.token))["putAppFile"]
    # Its manifests step has yet to run: it takes the new file itself.
    assert answer["releases"] == [], answer

    await ReleaseStep.filter(id=step.id).update(state=StepState.SUCCEEDED)
    changed = put(app, content="a: 2\n")
    answer = (await gql(PUT_FILE, changed, dev.token))["putAppFile"]
    [started] = answer["releases"]
    config = await Release.get(id=int(from_base64(started["id"])[1]))
    assert config.number == 3
    assert config.trigger == "config: file app.yaml"
    assert config.digest == rolling.digest
    # The engine works on it in the background (its image is not in the registry).
    await Release.filter(id=rolling.id).update(status=ReleaseStatus.CANCELLED)
    await wait_for_release(config.id, seconds=120)
