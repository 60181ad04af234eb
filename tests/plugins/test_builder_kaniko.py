"""The kaniko builder: the real kubernetes client against the Kubernetes stand-in, over HTTP.

No cluster runs here, so what a cluster would check is checked otherwise:
every manifest against the official schemas (kubernetes-validate, strict),
and the git fetch script by running it against a real repository.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes import client

from home_idp.plugins.builder import kaniko_manifests as manifests
from home_idp.plugins.builder.contract import (
    BuilderConfig,
    BuilderPlugin,
    BuildError,
    BuildHandle,
    BuildRequest,
    GitSource,
)
from home_idp.plugins.builder.kaniko import KanikoBuild, KanikoBuilder
from home_idp.plugins.registry.contract import RegistryCredentials
from tests.doubles.kubernetes import KubernetesStandIn, kubernetes_stand_in
from tests.liveserver import free_port

TOKEN = "k8s-StandInToken-0123456789abcdefABCDEF"
PUSH_PASSWORD = "robot-push-Secret-9876543210"
SOURCE_PASSWORD = "ghp_SourceToken0123456789abcdefABCDEF"
PLATFORM_PASSWORD = "ghp_PlatformToken0123456789abcdefABCD"
NAMESPACE = "shop"
BUILD_ID = "shop-web-r7"
REGISTRY = "registry.example:5000"
IMAGE = f"{REGISTRY}/shop/web:r7"
DIGEST = "sha256:" + "ab" * 32
PLATFORM_SHA = "0123456789abcdef0123456789abcdef01234567"
DOCKERFILE = "projects/shop/apps/web/Dockerfile"
SECRETS = (TOKEN, PUSH_PASSWORD, SOURCE_PASSWORD, PLATFORM_PASSWORD)

MakeBuilder = Callable[..., KanikoBuilder]


def make_request(**changes: Any) -> BuildRequest:
    fields: dict[str, Any] = {
        "build_id": BUILD_ID,
        "namespace": NAMESPACE,
        "source": GitSource(
            "https://git.example/acme/web.git",
            "main",
            path="app",
            username="ada",
            password=SOURCE_PASSWORD,
        ),
        "platform": GitSource(
            "https://git.example/acme/platform.git", PLATFORM_SHA, password=PLATFORM_PASSWORD
        ),
        "dockerfile_path": DOCKERFILE,
        "image": IMAGE,
        "push_credentials": RegistryCredentials("robot$shop", PUSH_PASSWORD),
        "env": {"TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }
    return BuildRequest(**(fields | changes))


@pytest.fixture
async def kube() -> AsyncIterator[KubernetesStandIn]:
    async with kubernetes_stand_in(token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
async def make_builder(kube: KubernetesStandIn, tmp_path: Path) -> AsyncIterator[MakeBuilder]:
    made: list[KanikoBuilder] = []

    def make(**options: str) -> KanikoBuilder:
        settings = {
            "api_url": kube.base_url,
            "token": TOKEN,
            "poll_interval": "0.02",
            "request_timeout": "2",
            "unavailable_timeout": "0.3",
            "delete_timeout": "2",
        }
        builder = KanikoBuilder(BuilderConfig(tmp_path, settings | options))
        made.append(builder)
        return builder

    yield make
    for builder in made:
        await builder.aclose()


@pytest.fixture
def builder(make_builder: MakeBuilder) -> KanikoBuilder:
    return make_builder()


async def collect(handle: BuildHandle) -> list[str]:
    return [line async for line in handle.log_lines()]


def decoded(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text


async def wait_for(condition: Callable[[], bool]) -> None:
    """Poll a condition on the stand-in's state; a test fails after 5 s without it."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the state has no event to wait on
            await asyncio.sleep(0.01)


# The manifests.


@pytest.mark.parametrize("version", ["1.29.0", "1.32.0"])
@pytest.mark.parametrize("executor", ["kaniko", "buildah"])
@pytest.mark.parametrize("insecure", [False, True])
def test_manifests_validate_strictly(version: str, executor: str, insecure: bool) -> None:
    settings = manifests.JobSettings(executor=executor, service_account="builder")
    request = make_request(insecure_registry=insecure)
    anonymous = make_request(
        push_credentials=None,
        source=GitSource("https://git.example/acme/web.git", "v1.2"),
        platform=GitSource("https://git.example/acme/platform.git", PLATFORM_SHA),
    )
    for doc in (
        manifests.job(request, settings),
        manifests.job(anonymous, settings),
        manifests.registry_secret(request),
        manifests.registry_secret(anonymous),
        manifests.git_secret(request),
        manifests.git_secret(anonymous),
    ):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_kaniko_job() -> None:
    job = manifests.job(make_request(insecure_registry=True), manifests.JobSettings())
    spec = job["spec"]
    pod = spec["template"]["spec"]
    assert job["metadata"]["name"] == BUILD_ID
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "home-idp",
        "home-idp.dev/build": BUILD_ID,
    }
    assert spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert spec["activeDeadlineSeconds"] == 1800
    assert pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-platform", "fetch-source"]
    build = pod["containers"][0]
    assert build["image"] == manifests.DEFAULT_EXECUTOR_IMAGE
    assert build["args"][:4] == [
        f"--dockerfile=/workspace/platform/{DOCKERFILE}",
        "--context=dir:///workspace/source/app",
        f"--destination={IMAGE}",
        "--digest-file=/dev/termination-log",
    ]
    assert {"--insecure", "--skip-tls-verify"} <= set(build["args"])
    assert {"name": "TRACEPARENT", "value": make_request().env["TRACEPARENT"]} in build["env"]
    assert {"name": "registry-auth", "mountPath": "/kaniko/.docker", "readOnly": True} in build[
        "volumeMounts"
    ]
    assert build["resources"]["limits"]["memory"] == "4Gi"
    platform_env = {e["name"]: e for e in pod["initContainers"][0]["env"]}
    assert platform_env["GIT_REF"]["value"] == PLATFORM_SHA
    assert platform_env["GIT_SPARSE"]["value"] == f"/{DOCKERFILE}"
    assert platform_env["GIT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{BUILD_ID}-git",
        "key": "platform-password",
    }
    config = {
        platform_env[f"GIT_CONFIG_KEY_{n}"]["value"]: platform_env[f"GIT_CONFIG_VALUE_{n}"]["value"]
        for n in range(int(platform_env["GIT_CONFIG_COUNT"]["value"]))
    }
    assert "credential.https://git.example.helper" in config
    # A redirect would take the fetch to a host nobody checked.
    assert config["http.followRedirects"] == "false"
    # Nothing secret in the Job, and no URL with credentials.
    assert_no_secret(json.dumps(job))
    assert "@git.example" not in json.dumps(job)


def test_the_kaniko_job_caches_layers_in_the_apps_own_repository() -> None:
    args = manifests.job(make_request(), manifests.JobSettings())["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    # Beside the app's images, in the project's part of the registry: one
    # project's cached layers are never another's.
    assert "--cache=true" in args
    assert f"--cache-repo={REGISTRY}/shop/web/cache" in args
    assert "--cache-ttl=168h" in args
    other = make_request(namespace="games", image=f"{REGISTRY}/games/web:r1")
    other_args = manifests.job(other, manifests.JobSettings())["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert f"--cache-repo={REGISTRY}/games/web/cache" in other_args
    # The per-release values stay build args: kaniko keys a layer by an
    # argument only where the Dockerfile declares it.
    assert f"--build-arg=TRACEPARENT={make_request().env['TRACEPARENT']}" in args


def test_the_cache_can_be_turned_off_and_its_ttl_set() -> None:
    off = manifests.JobSettings.read({"cache": "false"}, "the kaniko builder", BuildError)
    args = manifests.job(make_request(), off)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(arg.startswith("--cache") for arg in args)
    ttl = manifests.JobSettings.read({"cache_ttl_hours": "24"}, "the kaniko builder", BuildError)
    args = manifests.job(make_request(), ttl)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--cache-ttl=24h" in args
    with pytest.raises(BuildError, match="cache_ttl_hours"):
        manifests.JobSettings.read({"cache_ttl_hours": "0"}, "the kaniko builder", BuildError)


async def test_a_cached_build_pushes_its_layers_with_the_push_credentials(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    await builder.start(make_request())
    job = kube.get("jobs", NAMESPACE, BUILD_ID)
    assert job is not None
    build = job["spec"]["template"]["spec"]["containers"][0]
    assert f"--cache-repo={REGISTRY}/shop/web/cache" in build["args"]
    # kaniko reads the same config.json for the cache repository as for the
    # image: the push robot's, for the registry host both are on.
    assert {"name": "registry-auth", "mountPath": "/kaniko/.docker", "readOnly": True} in build[
        "volumeMounts"
    ]
    registry = kube.get("secrets", NAMESPACE, f"{BUILD_ID}-registry")
    assert registry is not None
    auths = json.loads(decoded(registry, ".dockerconfigjson"))["auths"]
    assert list(auths) == [REGISTRY]
    assert auths[REGISTRY]["password"] == PUSH_PASSWORD


def test_the_buildah_job_and_image_options() -> None:
    settings = manifests.JobSettings(
        executor="buildah", buildah_image="quay.io/buildah/stable:v9", git_image="git:v9"
    )
    pod = manifests.job(make_request(), settings)["spec"]["template"]["spec"]
    build = pod["containers"][0]
    assert build["image"] == "quay.io/buildah/stable:v9"
    assert {c["image"] for c in pod["initContainers"]} == {"git:v9"}
    script = build["command"][2]
    assert "--storage-driver vfs bud --isolation chroot" in script
    assert "push" in script
    assert "--digestfile /dev/termination-log" in script
    env = {e["name"]: e.get("value") for e in build["env"]}
    assert env["IMAGE"] == IMAGE
    assert env["CONTEXT"] == "/workspace/source/app"
    assert env["TLS_VERIFY"] == "true"
    chainguard = manifests.JobSettings(executor_image="ghcr.io/chainguard-dev/kaniko:1.25.0")
    kaniko = manifests.job(make_request(), chainguard)["spec"]["template"]["spec"]["containers"][0]
    assert kaniko["image"] == "ghcr.io/chainguard-dev/kaniko:1.25.0"


def test_the_registry_secret() -> None:
    secret = manifests.registry_secret(make_request())
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(decoded(secret, ".dockerconfigjson"))
    entry = config["auths"][REGISTRY]
    assert entry["username"] == "robot$shop"
    assert entry["password"] == PUSH_PASSWORD
    assert base64.b64decode(entry["auth"]).decode() == f"robot$shop:{PUSH_PASSWORD}"


def test_the_fetch_script_checks_out_the_commit_and_only_the_dockerfile(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    env = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    git = ["git", "-C", str(origin), "-c", "user.name=N", "-c", "user.email=n@x"]
    (origin / "projects/shop/apps/web").mkdir(parents=True)
    (origin / DOCKERFILE).write_text("FROM scratch\n")
    (origin / "README.md").write_text("hello\n")
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, env=env)
    subprocess.run([*git, "add", "."], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "one"], check=True, env=env)
    first = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    (origin / DOCKERFILE).write_text("FROM later\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True, env=env)

    request = make_request(platform=GitSource("https://git.example/p.git", first))
    container = manifests.job(request, manifests.JobSettings())["spec"]["template"]["spec"][
        "initContainers"
    ][0]
    values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    values = values | {"GIT_URL": f"file://{origin}", "GIT_DEST": str(tmp_path / "platform")}
    values = values | {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        container["command"], env=values, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"at {first}" in done.stdout
    checkout = tmp_path / "platform"
    assert (checkout / DOCKERFILE).read_text() == "FROM scratch\n"
    assert not (checkout / "README.md").exists()


def test_settings_are_checked(tmp_path: Path) -> None:
    base = {"api_url": "http://127.0.0.1:9", "token": TOKEN}
    for bad in (
        {"executor": "docker"},
        {"ttl_seconds": "-1"},
        {"memory_limit": "lots"},
        {"executor_image": "has space"},
        {"verify_tls": "maybe"},
        {"api_url": "ftp://x"},
        {"token": ""},
    ):
        with pytest.raises(BuildError) as caught:
            KanikoBuilder(BuilderConfig(tmp_path, base | bad))
        assert TOKEN not in str(caught.value)


def test_without_api_url_or_kubeconfig_it_needs_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(BuildError, match="in a cluster"):
        KanikoBuilder(BuilderConfig(tmp_path, {}))


# Builds against the stand-in.


async def test_is_a_builder_plugin(builder: KanikoBuilder) -> None:
    assert isinstance(builder, BuilderPlugin)
    assert builder.on_this_machine is False
    assert TOKEN not in repr(builder)


async def test_a_successful_build(kube: KubernetesStandIn, builder: KanikoBuilder) -> None:
    assert kube.get("namespaces", "", NAMESPACE) is None  # a new project: never synced yet
    handle = await builder.start(make_request())
    logs = asyncio.create_task(collect(handle))
    namespace = kube.get("namespaces", "", NAMESPACE)
    assert namespace is not None
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "home-idp"

    job = kube.get("jobs", NAMESPACE, BUILD_ID)
    assert job is not None
    assert_no_secret(json.dumps(job))
    registry = kube.get("secrets", NAMESPACE, f"{BUILD_ID}-registry")
    git = kube.get("secrets", NAMESPACE, f"{BUILD_ID}-git")
    assert registry is not None
    assert git is not None
    assert registry["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(decoded(registry, ".dockerconfigjson"))["auths"]
    assert auths[REGISTRY]["password"] == PUSH_PASSWORD
    assert git["type"] == "Opaque"
    assert decoded(git, "source-username") == "ada"
    assert decoded(git, "source-password") == SOURCE_PASSWORD
    assert decoded(git, "platform-password") == PLATFORM_PASSWORD
    for secret in (registry, git):
        assert secret["metadata"]["labels"]["home-idp.dev/build"] == BUILD_ID
        (owner,) = secret["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("Job", job["metadata"]["uid"])

    kube.finish_job(
        NAMESPACE,
        BUILD_ID,
        logs={
            "fetch-platform": ["checked out platform"],
            "fetch-source": ["checked out source"],
            "build": ["INFO Building stage", "INFO Pushing image"],
        },
        digest=DIGEST + "\n",
    )
    result = await asyncio.wait_for(handle.result(), 5)
    assert result.succeeded
    assert result.digest == DIGEST
    assert await asyncio.wait_for(logs, 5) == [
        "==> fetch-platform",
        "checked out platform",
        "==> fetch-source",
        "checked out source",
        "==> build",
        "INFO Building stage",
        "INFO Pushing image",
    ]
    # The push credentials are not left lying around once the build is over.
    assert kube.list("secrets", NAMESPACE) == []


async def test_logs_stream_while_containers_run(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    handle = await builder.start(make_request())
    seen: list[str] = []

    async def read() -> None:
        async for line in handle.log_lines():
            seen.append(line)

    reader = asyncio.create_task(read())
    kube.run_container(NAMESPACE, BUILD_ID, "fetch-platform", ["cloning"])
    await wait_for(lambda: seen == ["==> fetch-platform", "cloning"])
    kube.add_logs(NAMESPACE, BUILD_ID, "fetch-platform", [f"token is {PLATFORM_PASSWORD}"])
    await wait_for(lambda: len(seen) == 3)
    assert seen[2] == "token is ****"
    kube.run_container(NAMESPACE, BUILD_ID, "build", ["building"])
    await wait_for(lambda: "building" in seen)
    assert not reader.done()
    kube.finish_job(NAMESPACE, BUILD_ID, logs={"build": ["pushed"]}, digest=DIGEST)
    await asyncio.wait_for(reader, 5)
    assert seen[-1] == "pushed"
    assert "==> fetch-source" in seen
    assert (await handle.result()).digest == DIGEST


async def test_a_failed_fetch_source(kube: KubernetesStandIn, builder: KanikoBuilder) -> None:
    handle = await builder.start(make_request())
    kube.fail_job(
        NAMESPACE,
        BUILD_ID,
        "fetch-source",
        128,
        message="remote: Repository not found.\nfatal: repository 'https://git.example/acme/web.git/' not found",
        logs={"fetch-platform": ["ok"], "fetch-source": ["fatal: not found"]},
    )
    result = await asyncio.wait_for(handle.result(), 5)
    assert not result.succeeded
    assert result.digest is None
    assert result.reason.startswith("fetch-source failed: exit code 128")
    assert "repository 'https://git.example/acme/web.git/' not found" in result.reason
    assert result.retryable is False
    assert await asyncio.wait_for(collect(handle), 5) == [
        "==> fetch-platform",
        "ok",
        "==> fetch-source",
        "fatal: not found",
    ]


async def test_a_registry_away_is_retryable(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    handle = await builder.start(make_request())
    kube.fail_job(
        NAMESPACE,
        BUILD_ID,
        "build",
        1,
        message=f'error pushing image: Get "https://{REGISTRY}/v2/": dial tcp: connect: connection refused',
    )
    result = await asyncio.wait_for(handle.result(), 5)
    assert result.reason.startswith("build failed: exit code 1: error pushing image")
    assert result.retryable is True


async def test_a_success_without_a_digest_is_a_failure(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    handle = await builder.start(make_request())
    kube.finish_job(NAMESPACE, BUILD_ID, digest="not a digest")
    result = await asyncio.wait_for(handle.result(), 5)
    assert result.digest is None
    assert "no image digest" in result.reason


async def test_starting_again_replaces_the_earlier_job(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    first = await builder.start(make_request())
    old_uid = kube.get("jobs", NAMESPACE, BUILD_ID)["metadata"]["uid"]  # type: ignore[index]
    old_pod = kube.job_pod(NAMESPACE, BUILD_ID)["metadata"]["name"]
    kube.requests.clear()

    second = await builder.start(make_request())
    job_path = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
    assert kube.requests.index(("DELETE", f"{job_path}/{BUILD_ID}")) < kube.requests.index(
        ("POST", job_path)
    )
    delete = next(r for r in kube.recorded if r.method == "DELETE" and r.path.startswith(job_path))
    assert delete.query["propagationPolicy"] == "Foreground"
    jobs = kube.list("jobs", NAMESPACE)
    assert len(jobs) == 1
    assert jobs[0]["metadata"]["uid"] != old_uid
    assert kube.get("pods", NAMESPACE, old_pod) is None  # went with the old Job
    assert len(kube.list("pods", NAMESPACE)) == 1

    # The first handle knows it was replaced, and cancelling it spares the new Job.
    assert (await asyncio.wait_for(first.result(), 5)).reason == (
        "the build was replaced by a newer start"
    )
    await first.cancel()
    assert kube.get("jobs", NAMESPACE, BUILD_ID) is not None
    assert len(kube.list("secrets", NAMESPACE)) == 2

    kube.finish_job(NAMESPACE, BUILD_ID, digest=DIGEST)
    assert (await asyncio.wait_for(second.result(), 5)).digest == DIGEST


async def test_cancel_deletes_the_job_and_secrets_and_is_idempotent(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    handle = await builder.start(make_request())
    kube.run_container(NAMESPACE, BUILD_ID, "fetch-platform", ["cloning"])
    lines: list[str] = []

    async def read() -> None:
        async for line in handle.log_lines():
            lines.append(line)

    reader = asyncio.create_task(read())
    await wait_for(lambda: "cloning" in lines)
    await handle.cancel()
    await handle.cancel()
    assert kube.list("jobs", NAMESPACE) == []
    assert kube.list("pods", NAMESPACE) == []
    assert kube.list("secrets", NAMESPACE) == []
    deletes = kube.calls("DELETE", f"/api/v1/namespaces/{NAMESPACE}/secrets/")
    assert len(deletes) >= 2
    await asyncio.wait_for(reader, 5)  # the log stream ends too
    result = await asyncio.wait_for(handle.result(), 5)
    assert result.digest is None
    assert "cancelled" in result.reason


async def test_aclose_cancels_running_builds(
    kube: KubernetesStandIn, make_builder: MakeBuilder
) -> None:
    builder = make_builder()
    await builder.start(make_request())
    done = await builder.start(make_request(build_id="other-build"))
    kube.finish_job(NAMESPACE, "other-build", digest=DIGEST)
    await asyncio.wait_for(done.result(), 5)
    await builder.aclose()
    assert kube.get("jobs", NAMESPACE, BUILD_ID) is None
    assert kube.get("jobs", NAMESPACE, "other-build") is not None  # finished ones stay (TTL)


@pytest.mark.parametrize(
    "changes",
    [
        {"build_id": "../x"},
        {"build_id": "UPPER"},
        {"build_id": "x" * 60},
        {"namespace": "UPPER"},
        {"namespace": "a/b"},
        {"image": "no-tag/at-all"},
        {"image": "web:latest"},
        {"dockerfile_path": "../etc/passwd"},
        {"dockerfile_path": "/abs/Dockerfile"},
        {"source": GitSource("https://ada:pw@git.example/web.git", "main")},
        {"source": GitSource("https://git.example/web.git", "main; rm -rf /")},
        {"source": GitSource("https://git.example/web.git", "main", path="../up")},
        {"env": {"BAD NAME": "x"}},
    ],
)
async def test_bad_input_creates_nothing(
    kube: KubernetesStandIn, builder: KanikoBuilder, changes: dict[str, Any]
) -> None:
    with pytest.raises(BuildError):
        await builder.start(make_request(**changes))
    assert kube.requests == []


async def test_the_api_server_down_fails_fast(tmp_path: Path) -> None:
    options = {
        "api_url": f"http://127.0.0.1:{free_port()}",
        "token": TOKEN,
        "request_timeout": "1",
    }
    builder = KanikoBuilder(BuilderConfig(tmp_path, options))
    started = time.monotonic()
    with pytest.raises(BuildError, match="could not be reached") as caught:
        await builder.start(make_request())
    assert time.monotonic() - started < 5
    assert_no_secret(str(caught.value))
    await builder.aclose()


async def test_the_api_server_going_away_gives_a_retryable_result(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    handle = await builder.start(make_request())
    await kube.stop()
    result = await asyncio.wait_for(handle.result(), 5)
    assert result.digest is None
    assert result.retryable is True
    assert "could not be reached" in result.reason
    assert await asyncio.wait_for(collect(handle), 5) == []


async def test_a_wrong_token_is_an_error_without_the_token(
    kube: KubernetesStandIn, make_builder: MakeBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "k8s-WrongToken-abcdefabcdefabcdef"
    builder = make_builder(token=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(BuildError, match="401") as caught:
        await builder.start(make_request())
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text


async def test_no_secret_in_errors_or_logs(
    kube: KubernetesStandIn, builder: KanikoBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        handle = await builder.start(make_request())
        reader = asyncio.create_task(collect(handle))
        kube.fail_job(
            NAMESPACE,
            BUILD_ID,
            "build",
            1,
            message=f"denied: {PUSH_PASSWORD} is wrong",
            logs={"build": [f"pushing with {PUSH_PASSWORD}"]},
        )
        result = await asyncio.wait_for(handle.result(), 5)
        lines = await asyncio.wait_for(reader, 5)
        await kube.stop()
        with pytest.raises(BuildError) as caught:
            await builder.start(make_request())
    assert "***" in result.reason
    assert_no_secret(result.reason)
    assert_no_secret("\n".join(lines))
    assert_no_secret(str(caught.value))
    assert_no_secret(caplog.text)
    assert all(TOKEN not in str(record.args) for record in caplog.records)


async def test_a_kubeconfig_file(kube: KubernetesStandIn, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": kube.base_url}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    builder = KanikoBuilder(
        BuilderConfig(tmp_path, {"kubeconfig": str(kubeconfig), "poll_interval": "0.02"})
    )
    try:
        handle = await builder.start(make_request())
        assert isinstance(handle, KanikoBuild)
        assert kube.get("jobs", NAMESPACE, BUILD_ID) is not None
        kube.finish_job(NAMESPACE, BUILD_ID, digest=DIGEST)
        assert (await asyncio.wait_for(handle.result(), 5)).digest == DIGEST
    finally:
        await builder.aclose()


async def test_the_buildah_executor_runs_as_a_job(
    kube: KubernetesStandIn, make_builder: MakeBuilder
) -> None:
    builder = make_builder(executor="buildah")
    handle = await builder.start(make_request())
    job = kube.get("jobs", NAMESPACE, BUILD_ID)
    assert job is not None
    build = job["spec"]["template"]["spec"]["containers"][0]
    assert build["image"] == manifests.DEFAULT_BUILDAH_IMAGE
    kube.finish_job(NAMESPACE, BUILD_ID, digest=DIGEST)
    assert (await asyncio.wait_for(handle.result(), 5)).digest == DIGEST


# The stand-in itself follows the API's answers.


def status_body(error: client.ApiException) -> Any:
    """The Status object the API sent back with `error`."""
    assert error.body is not None
    return json.loads(error.body)


def name_of(obj: client.V1ConfigMap) -> str | None:
    """The name `obj`'s metadata holds."""
    assert obj.metadata is not None
    return obj.metadata.name


async def test_the_stand_in_answers_like_the_api(kube: KubernetesStandIn) -> None:
    configuration = client.Configuration()
    configuration.host = kube.base_url
    configuration.api_key = {"BearerToken": TOKEN}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api_client = client.ApiClient(configuration)
    core = client.CoreV1Api(api_client)
    try:
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c", labels={"a": "1"}))
        made = await asyncio.to_thread(core.create_namespaced_config_map, "ns", body)
        assert made.metadata is not None
        assert made.metadata.uid
        assert made.metadata.namespace == "ns"
        assert made.metadata.resource_version
        assert made.metadata.creation_timestamp is not None
        with pytest.raises(client.ApiException) as conflict:
            await asyncio.to_thread(core.create_namespaced_config_map, "ns", body)
        assert conflict.value.status == 409
        assert status_body(conflict.value)["reason"] == "AlreadyExists"
        listed = await asyncio.to_thread(
            core.list_namespaced_config_map, "ns", label_selector="a=1"
        )
        assert [name_of(m) for m in listed.items] == ["c"]
        none = await asyncio.to_thread(core.list_namespaced_config_map, "ns", label_selector="a=2")
        assert none.items == []
        made.data = {"k": "v"}
        replaced = await asyncio.to_thread(core.replace_namespaced_config_map, "c", "ns", made)
        assert replaced.data == {"k": "v"}
        with pytest.raises(client.ApiException) as stale:  # made's resourceVersion is old
            await asyncio.to_thread(core.replace_namespaced_config_map, "c", "ns", made)
        assert stale.value.status == 409
        assert status_body(stale.value)["reason"] == "Conflict"
    finally:
        status = await asyncio.to_thread(core.delete_namespaced_config_map, "c", "ns")
        assert isinstance(status, dict)  # this client hands deletes back as plain dicts
        assert status["kind"] == "Status"
        assert status["status"] == "Success"
        with pytest.raises(client.ApiException) as missing:
            await asyncio.to_thread(core.read_namespaced_config_map, "c", "ns")
        assert missing.value.status == 404
        assert status_body(missing.value) | {"details": None} == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'configmaps "c" not found',
            "reason": "NotFound",
            "code": 404,
            "details": None,
        }
        await asyncio.to_thread(api_client.close)
