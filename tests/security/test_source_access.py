"""An app's source repository: no credentials in its URL, a source credential that is
never shown, hosts that may not reach the metadata service or the cluster's insides,
and ssh that never uses this machine's own keys."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pydantic
import pytest

from home_idp.plugins.builder.buildah import BuildahBuilder
from home_idp.plugins.builder.contract import BuilderConfig, BuildRequest, GitSource
from home_idp.server.apps.models import App, SourceCredential
from home_idp.server.apps.source_hosts import SourceHostPolicy
from home_idp.server.deploy.app_source import SourceNotUsable, build_source
from home_idp.server.errors import ValidationFailed
from home_idp.server.rbac.models import AuditEvent
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings, SourceSettings
from tests.components import BASE_IMAGE, REGISTRY_HOST, SOURCE_REPO, BuildComponents
from tests.factories import Factory, Person, project_gid
from tests.graphql import GraphQLClient
from tests.liveserver import threaded_http_server

RESULT = """
    __typename
    ... on AppSuccess { app { id sourceRepo sourceCredential { kind username updatedBy } } }
    ... on ValidationError { fieldErrors { field message } }
    ... on Error { message }
"""
CREATE = f"mutation($input: CreateAppInput!) {{ createApp(input: $input) {{ {RESULT} }} }}"
UPDATE = f"mutation($input: UpdateAppInput!) {{ updateApp(input: $input) {{ {RESULT} }} }}"
SET_CREDENTIAL = f"""mutation($input: SetSourceCredentialInput!) {{
  setSourceCredential(input: $input) {{ {RESULT} }}
}}"""
APP = """query($id: ID!) {
  node(id: $id) { ... on App { sourceRepo sourceCredential { kind username } } }
}"""
TOKEN = "ghp_s3cret-token-of-the-source-Qx7"
DEPLOY_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


@pytest.fixture
async def people(factory: Factory) -> tuple[Person, Person, str]:
    """A developer and a viewer of the project `src`, and the project's id."""
    developer = await factory.user("dev")
    viewer = await factory.user("vic")
    project = await factory.project("src", dev="developer", vic="viewer")
    return developer, viewer, project_gid(project)


async def _create(
    gql: GraphQLClient, person: Person, project: str, source: str, name: str = "web"
) -> dict[str, Any]:
    payload = {"project": project, "name": name, "sourceRepo": source}
    answer: dict[str, Any] = (await gql(CREATE, {"input": payload}, token=person.token))[
        "createApp"
    ]
    return answer


def _field_errors(answer: dict[str, Any]) -> dict[str, str]:
    assert answer["__typename"] == "ValidationError", answer
    return {error["field"]: error["message"] for error in answer["fieldErrors"]}


@pytest.mark.parametrize(
    "source",
    [
        "https://dev:hunter2@git.example.test/shop/web.git",
        f"https://{TOKEN}@git.example.test/shop/web.git",
        "http://x-access-token:abc123@127.0.0.1:9/web.git",
        "ssh://git:hunter2@git.example.test/shop/web.git",
    ],
    ids=["user-and-password", "token-as-user", "token-on-http", "password-on-ssh"],
)
async def test_credentials_in_the_source_url_are_refused_and_point_to_the_credential(
    gql: GraphQLClient, people: tuple[Person, Person, str], source: str
) -> None:
    developer, _, project = people
    errors = _field_errors(await _create(gql, developer, project, source))
    assert "setSourceCredential" in errors["sourceRepo"]
    assert not await App.exists()
    # Nothing of the URL reached the audit log either.
    assert not await AuditEvent.filter(action="app.create").exists()

    created = await _create(gql, developer, project, SOURCE_REPO)
    app_id = created["app"]["id"]
    update = {"id": app_id, "sourceRepo": source}
    errors = _field_errors(
        (await gql(UPDATE, {"input": update}, token=developer.token))["updateApp"]
    )
    assert "setSourceCredential" in errors["sourceRepo"]
    assert (await App.get()).source_repo == SOURCE_REPO


async def test_an_old_url_with_credentials_is_never_shown(
    gql: GraphQLClient, people: tuple[Person, Person, str]
) -> None:
    developer, viewer, project = people
    created = await _create(gql, developer, project, SOURCE_REPO)
    # Saved before such URLs were refused.
    await App.filter().update(source_repo="https://dev:hunter2@git.example.test/web.git")
    node = (await gql(APP, {"id": created["app"]["id"]}, token=viewer.token))["node"]
    assert node["sourceRepo"] == "https://git.example.test/web.git"


async def test_a_token_is_stored_encrypted_and_never_returned(
    gql: GraphQLClient, people: tuple[Person, Person, str], runtime: Runtime
) -> None:
    developer, viewer, project = people
    app_id = (await _create(gql, developer, project, SOURCE_REPO))["app"]["id"]
    given = {"app": app_id, "username": "ci-bot", "token": TOKEN}
    answer = (await gql(SET_CREDENTIAL, {"input": given}, token=developer.token))[
        "setSourceCredential"
    ]
    assert answer["app"]["sourceCredential"] == {
        "kind": "token",
        "username": "ci-bot",
        "updatedBy": "dev",
    }
    row = await SourceCredential.get()
    assert TOKEN not in row.ciphertext
    node = (await gql(APP, {"id": app_id}, token=viewer.token))["node"]
    assert node["sourceCredential"] == {"kind": "token", "username": "ci-bot"}
    audit = [str(event.detail) for event in await AuditEvent.all()]
    assert not any(TOKEN in detail for detail in audit)
    # A build gets it, pinned to the address that was checked.
    build = await build_source(
        await App.get(), SourceHostPolicy(allow_internal=True), runtime.secret_box
    )
    assert (build.source.username, build.source.password) == ("ci-bot", TOKEN)
    assert build.source.address == "127.0.0.1"
    assert TOKEN in build.secrets


@pytest.mark.parametrize(
    ("source", "given", "field"),
    [
        (SOURCE_REPO, {}, "token"),
        (SOURCE_REPO, {"token": TOKEN, "sshPrivateKey": DEPLOY_KEY}, "token"),
        (SOURCE_REPO, {"sshPrivateKey": DEPLOY_KEY}, "token"),
        (SOURCE_REPO, {"token": "two\nlines"}, "token"),
        (SOURCE_REPO, {"token": "x" * 5000}, "token"),
        (SOURCE_REPO, {"token": TOKEN, "username": "-oProxyCommand"}, "username"),
        ("git@git.example.test:shop/web.git", {"token": TOKEN}, "sshPrivateKey"),
        ("git@git.example.test:shop/web.git", {"sshPrivateKey": "not a key"}, "sshPrivateKey"),
        ("git://git.example.test/web.git", {"token": TOKEN}, "token"),
    ],
    ids=[
        "nothing",
        "both",
        "key-for-https",
        "newline",
        "too-long",
        "option-user",
        "token-for-ssh",
        "not-a-key",
        "git-protocol",
    ],
)
async def test_a_wrong_credential_is_a_field_error_and_changes_nothing(
    gql: GraphQLClient,
    people: tuple[Person, Person, str],
    source: str,
    given: dict[str, str],
    field: str,
) -> None:
    developer, _, project = people
    app_id = (await _create(gql, developer, project, source))["app"]["id"]
    answer = (
        await gql(SET_CREDENTIAL, {"input": {"app": app_id, **given}}, token=developer.token)
    )["setSourceCredential"]
    assert field in _field_errors(answer)
    assert not await SourceCredential.exists()


async def test_a_viewer_cannot_set_a_credential(
    gql: GraphQLClient, people: tuple[Person, Person, str]
) -> None:
    developer, viewer, project = people
    app_id = (await _create(gql, developer, project, SOURCE_REPO))["app"]["id"]
    given = {"app": app_id, "token": TOKEN}
    answer = (await gql(SET_CREDENTIAL, {"input": given}, token=viewer.token))[
        "setSourceCredential"
    ]
    assert answer["__typename"] == "PermissionDenied"
    assert not await SourceCredential.exists()


async def test_a_credential_never_follows_the_url_to_another_host(
    gql: GraphQLClient, people: tuple[Person, Person, str], runtime: Runtime
) -> None:
    developer, _, project = people
    app_id = (await _create(gql, developer, project, SOURCE_REPO))["app"]["id"]
    given = {"app": app_id, "token": TOKEN}
    await gql(SET_CREDENTIAL, {"input": given}, token=developer.token)
    # Someone who may change the app but could never read the token points the
    # source at a server of theirs.
    update = {"id": app_id, "sourceRepo": "http://127.0.0.2:9/theirs.git"}
    answer = (await gql(UPDATE, {"input": update}, token=developer.token))["updateApp"]
    assert answer["app"]["sourceCredential"] is None, answer
    assert not await SourceCredential.exists()
    # And one changed behind the API's back is not sent there either.
    await SourceCredential.create(
        app=await App.get(),
        kind="token",
        origin="http://127.0.0.1:1",
        ciphertext=runtime.secret_box.encrypt(f'{{"token": "{TOKEN}"}}'),
        updated_by="dev",
    )
    with pytest.raises(SourceNotUsable, match="set it again"):
        await build_source(
            await App.get(), SourceHostPolicy(allow_internal=True), runtime.secret_box
        )


# --- hosts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "http://169.254.169.254/latest/meta-data.git",
        "http://[fe80::1]/web.git",
        "http://[::ffff:169.254.169.254]/web.git",
        "http://[64:ff9b::a9fe:a9fe]/web.git",
        "http://[2002:a9fe:a9fe::1]/web.git",
        "git@169.254.169.254:web.git",
    ],
    ids=["metadata-v4", "link-local-v6", "mapped-v4", "nat64", "6to4", "scp-like"],
)
async def test_a_link_local_source_is_refused_even_on_one_machine(
    gql: GraphQLClient, people: tuple[Person, Person, str], source: str
) -> None:
    developer, _, project = people
    errors = _field_errors(await _create(gql, developer, project, source))
    assert "link-local" in errors["sourceRepo"]
    assert not await App.exists()


@pytest.mark.parametrize(
    "source",
    [
        "http://127.0.0.1:8080/web.git",
        "http://localhost/web.git",  # resolved through /etc/hosts
        "https://10.1.2.3/web.git",
        "https://[::1]/web.git",
        "http://0.0.0.0:5432/x.git",
        "git@192.168.1.10:web.git",
    ],
)
async def test_internal_sources_are_refused_in_the_cluster_profile(source: str) -> None:
    cluster = SourceHostPolicy(allow_internal=False)
    with pytest.raises(ValidationFailed, match="HOME_IDP_SOURCES__ALLOWED_NETWORKS"):
        await cluster.check_when_saved(source)


async def test_a_listed_network_may_be_a_source_in_the_cluster_profile() -> None:
    from ipaddress import ip_network

    home = SourceHostPolicy(allow_internal=False, allowed_networks=(ip_network("10.0.0.0/8"),))
    resolved = await home.resolve("https://10.1.2.3/web.git")
    assert resolved.address == "10.1.2.3"
    with pytest.raises(ValidationFailed):
        await home.resolve("https://192.168.1.10/web.git")
    # Listing link-local does not open it.
    metadata = SourceHostPolicy(allow_internal=False, allowed_networks=(ip_network("0.0.0.0/0"),))
    with pytest.raises(ValidationFailed, match="link-local"):
        await metadata.resolve("http://169.254.169.254/x.git")


async def test_the_host_is_checked_again_when_the_build_fetches(
    gql: GraphQLClient, people: tuple[Person, Person, str], runtime: Runtime
) -> None:
    developer, _, project = people
    await _create(gql, developer, project, "http://localhost:9/web.git")
    app = await App.get()
    # Saved on one machine; fetched by a server in the cluster profile.
    with pytest.raises(ValidationFailed, match="loopback or private"):
        await build_source(app, SourceHostPolicy(allow_internal=False), runtime.secret_box)


# --- ssh ---------------------------------------------------------------------------------


async def test_an_ssh_source_without_a_deploy_key_is_not_fetched(
    gql: GraphQLClient, people: tuple[Person, Person, str], runtime: Runtime
) -> None:
    developer, _, project = people
    await _create(gql, developer, project, "ssh://git@127.0.0.1:9/shop/web.git")
    with pytest.raises(SourceNotUsable, match="this machine's own ssh keys"):
        await build_source(
            await App.get(), SourceHostPolicy(allow_internal=True), runtime.secret_box
        )


# ssh as git runs it, replaced by a recorder: what it was asked to do, and the
# key file it was given while the fetch ran.
FAKE_SSH = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/argv"
for arg in "$@"; do
  case "$arg" in IdentityFile=/*) cp "${arg#IdentityFile=}" "$RECORD/key"
    stat -c %a "${arg#IdentityFile=}" > "$RECORD/mode";; esac
done
exit 1
"""


def _platform_repo(platform: Path) -> str:
    """A platform repo with d/Dockerfile; its commit."""
    (platform / "d").mkdir(parents=True)
    (platform / "d" / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(platform)], check=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-C", str(platform)]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "d"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


async def test_ssh_uses_the_deploy_key_and_nothing_of_this_machine(
    tmp_path: Path, build_components: BuildComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ssh").write_text(FAKE_SSH)
    (fake / "ssh").chmod(0o755)
    record = tmp_path / "record"
    record.mkdir()
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    platform = tmp_path / "platform"
    sha = await asyncio.to_thread(_platform_repo, platform)
    root = build_components.buildah_root
    builder = BuildahBuilder(
        BuilderConfig(tmp_path / "data", {"root": str(root / "root"), "runroot": str(root / "run")})
    )
    request = BuildRequest(
        build_id="ssh-source",
        namespace="shop",
        source=GitSource(
            "ssh://git@git.example.test/shop/web.git",
            "main",
            ssh_key=DEPLOY_KEY,
            address="127.0.0.1",
        ),
        platform=GitSource(str(platform), sha),
        dockerfile_path="d/Dockerfile",
        image=f"{REGISTRY_HOST}/shop/ssh:1",
        insecure_registry=True,
        env={"RECORD": str(record)},
    )
    handle = await builder.start(request)
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    assert not result.succeeded, lines
    argv = (record / "argv").read_text().splitlines()
    command = shlex.join(argv)
    # No config file, agent or default key of the server's user: only the deploy key.
    assert argv[:2] == ["-F", os.devnull]
    for option in ("BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none"):
        assert option in argv, command
    assert (record / "key").read_text() == DEPLOY_KEY
    assert (record / "mode").read_text().strip() == "600"
    # Pinned to the checked address, with host keys kept under the real name.
    assert "HostName=127.0.0.1" in argv and "HostKeyAlias=git.example.test" in argv
    key_files = [arg.partition("=")[2] for arg in argv if arg.startswith("IdentityFile=")]
    assert len(key_files) == 1 and key_files[0].startswith(str(tmp_path / "data" / "builds"))


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request with a redirect to `target`, or records it (`target` None)."""

    target: str | None = None
    hits: list[str]

    def do_GET(self) -> None:
        if self.target is not None:
            self.send_response(302)
            self.send_header("Location", f"{self.target}{self.path}")
            self.end_headers()
            return
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _http_server(target: str | None) -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"target": target, "hits": hits})
    with threaded_http_server(handler) as server:
        yield f"http://127.0.0.1:{server.server_port}", hits


async def test_a_fetch_does_not_follow_a_redirect_to_an_unchecked_host(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    platform = tmp_path / "platform"
    sha = await asyncio.to_thread(_platform_repo, platform)
    root = build_components.buildah_root
    builder = BuildahBuilder(
        BuilderConfig(tmp_path / "data", {"root": str(root / "root"), "runroot": str(root / "run")})
    )
    with _http_server(None) as (inside, hits), _http_server(inside) as (checked, _):
        request = BuildRequest(
            build_id="redirected",
            namespace="shop",
            source=GitSource(f"{checked}/web.git", "main", address="127.0.0.1"),
            platform=GitSource(str(platform), sha),
            dockerfile_path="d/Dockerfile",
            image=f"{REGISTRY_HOST}/shop/redirect:1",
            insecure_registry=True,
        )
        handle = await builder.start(request)
        lines = [line async for line in handle.log_lines()]
        result = await handle.result()
    assert not result.succeeded, lines
    # The host behind the redirect (the metadata service, say) was never asked.
    assert hits == []


def test_allowed_networks_are_read_from_settings_and_checked(tmp_path: Path) -> None:
    settings = Settings(
        profile="cluster",
        data_dir=tmp_path,
        sources=SourceSettings(allowed_networks=["192.168.1.0/24"]),
    )
    policy = SourceHostPolicy.from_settings(settings)
    assert not policy.allow_internal
    assert policy.problem(ip_address("192.168.1.7")) is None
    assert policy.problem(ip_address("192.168.2.7")) is not None
    assert SourceHostPolicy.from_settings(Settings(data_dir=tmp_path)).allow_internal
    with pytest.raises(pydantic.ValidationError):
        SourceSettings(allowed_networks=["not-a-network"])
