"""A release keeps the settings it was deployed with, and a rollback renders and deploys them
again: port, env and files of its target; secrets by name, with their values as stored now."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from strawberry.relay import from_base64, to_base64

from home_idp.plugins.deployer.contract import AppDeployment
from home_idp.server.apps.models import App
from home_idp.server.deploy import releases
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.rbac.models import Project
from tests.deploy.flow import wait_for_release
from tests.factories import Factory, Person
from tests.fakes.server import FakeServer
from tests.graphql import GraphQLClient

DOCKERFILE = 'FROM busybox\nCOPY . /app\nCMD ["/app/run"]\n'
ERRORS = "... on Error { message }"
SAVE = f"""mutation($input: SaveDockerfileInput!) {{
  saveDockerfile(input: $input) {{ __typename ... on SaveDockerfileSuccess {{ release {{ id }} }} {ERRORS} }}
}}"""
UPDATE_APP = f"""mutation($input: UpdateAppInput!) {{
  updateApp(input: $input) {{ __typename {ERRORS} }}
}}"""
PUT_FILE = f"""mutation($input: PutAppFileInput!) {{
  putAppFile(input: $input) {{ __typename ... on AppConfigSuccess {{ releases {{ id }} }} {ERRORS} }}
}}"""
SET_SECRET = f"""mutation($input: SetAppSecretInput!) {{
  setAppSecret(input: $input) {{ __typename {ERRORS} }}
}}"""
DELETE_SECRET = f"""mutation($input: DeleteAppSecretInput!) {{
  deleteAppSecret(input: $input) {{ __typename {ERRORS} }}
}}"""
ROLLBACK = f"""mutation($input: RollbackInput!) {{
  rollback(input: $input) {{ __typename ... on ReleaseSuccess {{ release {{ id }} }} {ERRORS} }}
}}"""
FILE_PATH = "/config/app.yaml"


class Shop:
    """One developer's app on the fakes, changed and released through the API."""

    def __init__(self, server: FakeServer, dev: Person, app: App) -> None:
        self.server = server
        self.dev = dev
        self.app = app
        self.gql = GraphQLClient(server.http)
        self.gid = to_base64("App", app.id)
        # The fake deployer outlives each test: only what this test synced counts.
        self._synced_before = len(server.plugins.deployer.synced)

    @classmethod
    async def open(cls, server: FakeServer, project: str) -> Shop:
        factory = Factory(server.runtime)
        dev = await factory.user("dev")
        owner: Project = await factory.project(project, dev="developer")
        app = await App.create(project=owner, name="web", source_repo="http://127.0.0.1:9/w.git")
        return cls(server, dev, app)

    async def call(self, document: str, mutation: str, **fields: Any) -> dict[str, Any]:
        answer = await self.gql(
            document, {"input": {"app": self.gid, **fields}}, token=self.dev.token
        )
        payload: dict[str, Any] = answer[mutation]
        return payload

    async def configure(self, *, port: int, env: dict[str, str]) -> None:
        variables = [{"name": name, "value": value} for name, value in env.items()]
        answer = await self.gql(
            UPDATE_APP,
            {"input": {"id": self.gid, "port": port, "env": variables}},
            token=self.dev.token,
        )
        assert answer["updateApp"]["__typename"] == "AppSuccess", answer

    async def put_file(self, content: str) -> list[Release]:
        """Store the config file; the config-only releases it started, ended."""
        payload = await self.call(
            PUT_FILE, "putAppFile", name="app.yaml", mountPath=FILE_PATH, content=content
        )
        assert payload["__typename"] == "AppConfigSuccess", payload
        return [await finished(started) for started in payload["releases"]]

    async def set_secret(self, name: str, value: str) -> None:
        payload = await self.call(SET_SECRET, "setAppSecret", name=name, value=value)
        assert payload["__typename"] == "AppSuccess", payload

    async def release(self, message: str) -> Release:
        content = f"{DOCKERFILE}LABEL note={message}\n"
        payload = await self.call(SAVE, "saveDockerfile", content=content, message=message)
        assert payload["__typename"] == "SaveDockerfileSuccess", payload
        return await finished(payload["release"])

    async def roll_back_to(self, target: Release) -> dict[str, Any]:
        return await self.call(ROLLBACK, "rollback", release=to_base64("Release", target.id))

    def deployed(self, release: Release) -> AppDeployment:
        """What the deployer was last given for `release`."""
        synced = self.server.plugins.deployer.synced[self._synced_before :]
        return [d for d in synced if d.release == release.number][-1]


async def finished(node: dict[str, Any]) -> Release:
    return await wait_for_release(int(from_base64(node["id"])[1]), 20)


def container(release: Release) -> dict[str, Any]:
    """The app's container in the release's rendered Deployment."""
    assert release.manifests is not None
    deployment = yaml.safe_load(release.manifests["deployment.yaml"])
    found: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return found


def plain_env(release: Release) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(release).get("env", []) if "value" in e}


def file_content(release: Release) -> str:
    assert release.manifests is not None
    [config_map] = yaml.safe_load_all(release.manifests["configmaps.yaml"])
    content: str = config_map["data"]["app.yaml"]
    return content


async def test_a_rollback_renders_and_deploys_its_targets_port_env_and_file(
    server: FakeServer,
) -> None:
    shop = await Shop.open(server, "snap")
    await shop.configure(port=8080, env={"A": "1"})
    await shop.put_file("a: 1\n")  # nothing is live yet: no config release
    first = await shop.release("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error

    # A new port and env, then a new file: the file starts a config-only release,
    # which ships the settings as they are now.
    await shop.configure(port=9090, env={"A": "2", "B": "new"})
    [second] = await shop.put_file("a: 2\n")
    assert second.status is ReleaseStatus.SUCCEEDED, second.error
    assert container(second)["ports"][0]["containerPort"] == 9090
    assert plain_env(second) == {"A": "2", "B": "new"}
    assert file_content(second) == "a: 2\n"
    deployed = shop.deployed(second)
    assert (deployed.port, dict(deployed.env)) == (9090, {"A": "2", "B": "new"})
    assert [f.content for f in deployed.files] == ["a: 2\n"]

    rolled = await shop.roll_back_to(first)
    assert rolled["__typename"] == "ReleaseSuccess", rolled
    third = await finished(rolled["release"])
    assert third.status is ReleaseStatus.SUCCEEDED, third.error
    assert third.digest == first.digest
    assert third.settings == first.settings
    # The manifests and the deployment are release #1's again, not the app's now.
    assert container(third)["ports"][0]["containerPort"] == 8080
    assert plain_env(third) == {"A": "1"}
    assert file_content(third) == "a: 1\n"
    deployed = shop.deployed(third)
    assert (deployed.port, dict(deployed.env)) == (8080, {"A": "1"})
    assert [(f.name, f.mount_path, f.content) for f in deployed.files] == [
        ("app.yaml", FILE_PATH, "a: 1\n")
    ]
    # The app's own settings are left as they were changed.
    app = await App.get(id=shop.app.id)
    assert (app.port, app.env) == (9090, {"A": "2", "B": "new"})


async def test_a_rollback_takes_secret_values_as_stored_now_and_keeps_none_itself(
    server: FakeServer,
) -> None:
    shop = await Shop.open(server, "snapsec")
    await shop.set_secret("TOKEN", "first-value")
    first = await shop.release("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    assert first.settings is not None and first.settings["secret_names"] == ["TOKEN"]
    assert "first-value" not in repr(first.settings)

    # Rotated since (a leaked token, say): the old value must not come back.
    await shop.set_secret("TOKEN", "rotated-value")
    rolled = await shop.roll_back_to(first)
    assert rolled["__typename"] == "ReleaseSuccess", rolled
    second = await finished(rolled["release"])
    assert second.status is ReleaseStatus.SUCCEEDED, second.error
    assert dict(shop.deployed(second).secrets) == {"TOKEN": "rotated-value"}


async def test_a_rollback_to_settings_naming_a_deleted_secret_is_refused(
    server: FakeServer,
) -> None:
    shop = await Shop.open(server, "snapgone")
    await shop.set_secret("DB_PASSWORD", "s3cret")
    first = await shop.release("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    payload = await shop.call(DELETE_SECRET, "deleteAppSecret", name="DB_PASSWORD")
    assert payload["__typename"] == "AppSuccess", payload

    refused = await shop.roll_back_to(first)

    assert refused["__typename"] == "Conflict", refused
    assert "DB_PASSWORD" in refused["message"], refused
    assert await Release.filter(app_id=shop.app.id).count() == 1


async def test_a_rollback_whose_secret_goes_before_its_manifests_step_fails_naming_it(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await Shop.open(server, "snaplate")
    await shop.set_secret("DB_PASSWORD", "s3cret")
    first = await shop.release("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    head = await server.plugins.git.head()
    payload = await shop.call(DELETE_SECRET, "deleteAppSecret", name="DB_PASSWORD")
    assert payload["__typename"] == "AppSuccess", payload

    # As if the secret was deleted once the rollback was accepted, before it rendered.
    async def none_missing(*_: object) -> None:
        return None

    monkeypatch.setattr(releases, "secrets_gone_for", none_missing)
    rolled = await shop.roll_back_to(first)
    assert rolled["__typename"] == "ReleaseSuccess", rolled
    second = await finished(rolled["release"])

    assert second.status is ReleaseStatus.FAILED
    assert second.error is not None and "DB_PASSWORD" in second.error, second.error
    assert second.error.startswith("manifests: "), second.error
    assert await server.plugins.git.head() == head  # nothing committed


async def test_a_rollback_to_a_release_without_a_snapshot_uses_the_apps_settings_now(
    server: FakeServer,
) -> None:
    shop = await Shop.open(server, "snapold")
    await shop.configure(port=8080, env={"A": "1"})
    first = await shop.release("first")
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    # Released before settings were kept.
    await Release.filter(id=first.id).update(settings=None)
    first = await Release.get(id=first.id)
    await shop.configure(port=9090, env={"A": "2"})

    rolled = await shop.roll_back_to(first)
    assert rolled["__typename"] == "ReleaseSuccess", rolled
    second = await finished(rolled["release"])

    assert second.status is ReleaseStatus.SUCCEEDED, second.error
    assert container(second)["ports"][0]["containerPort"] == 9090
    assert plain_env(second) == {"A": "2"}
    assert shop.deployed(second).port == 9090
    # It keeps the settings it was deployed with, for a rollback to it.
    assert second.settings is not None and second.settings["port"] == 9090
