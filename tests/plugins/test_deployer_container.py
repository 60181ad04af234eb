"""The container deployer with real podman, the real registry and real HTTP on 127.0.0.1.

The image is busybox (built FROM scratch by tests/components.py) plus a
start script: httpd on `$LISTEN:$PORT` serving /www (with /health and CGIs
that print their environment, print a file, or try to append to one), which
logs each request (`url:/path`) to stderr; or, when `EXIT_WITH` is set, a
line of log and an exit with that code. It is pushed to the test registry
and deployed by digest, as a real release is. The other
`test_deployer_container_*` modules share these fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from home_idp.plugins.deployer.container import ContainerDeployer
from home_idp.plugins.deployer.container_engine import default_runroot
from home_idp.plugins.deployer.contract import (
    AppDeployment,
    DeployerConfig,
    DeployError,
    DeployUnavailable,
    RolloutState,
    RolloutStatus,
)
from home_idp.plugins.registry.contract import RegistryCredentials
from tests.components import BASE_IMAGE, REGISTRY_HOST, BuildComponents, buildah_command
from tests.liveserver import free_port

# Real podman and runc (.ci/test installs them): the system tier.
pytestmark = pytest.mark.system

START = """#!/bin/sh
if [ -n "$EXIT_WITH" ]; then
  echo "giving up with $EXIT_WITH, token $API_TOKEN"
  exit "$EXIT_WITH"
fi
exec httpd -f -vv -p "${LISTEN:-0.0.0.0}:$PORT" -h /www
"""
CGI_HEADER = '#!/bin/sh\necho "Content-Type: text/plain"\necho\n'
CGIS = {
    "env": CGI_HEADER + "env\n",
    # The file named by the query string: /cgi-bin/cat?/etc/app/config.yaml
    "cat": CGI_HEADER + 'cat "$QUERY_STRING"\n',
    "append": CGI_HEADER + '{ echo x >> "$QUERY_STRING"; } 2>&1\necho "exit $?"\n',
}
# The served image's reference, by registry: built once per run.
_BUILT: dict[str, str] = {}


@pytest.fixture(scope="session")
def image(build_components: BuildComponents, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The serving image in the registry, by digest.

    Built once per run: the test modules that import this fixture each get
    a session fixture of their own, and all find the image here.
    """
    if REGISTRY_HOST in _BUILT:
        return _BUILT[REGISTRY_HOST]
    context = tmp_path_factory.mktemp("served")
    (context / "www" / "cgi-bin").mkdir(parents=True)
    (context / "www" / "health").write_text("ok\n")
    (context / "www" / "index.html").write_text("hello from the container\n")
    for cgi, script in CGIS.items():
        (context / "www" / "cgi-bin" / cgi).write_text(script)
        (context / "www" / "cgi-bin" / cgi).chmod(0o755)
    (context / "start").write_text(START)
    (context / "start").chmod(0o755)
    (context / "Dockerfile").write_text(
        f'FROM {BASE_IMAGE}\nCOPY www /www\nCOPY start /start\nCMD ["/start"]\n'
    )
    root = build_components.buildah_root
    buildah = buildah_command(root)
    tag = f"{REGISTRY_HOST}/shop/served:1"
    subprocess.run(
        [*buildah, "bud", "--isolation=chroot", "--tls-verify=false", "-t", tag, str(context)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    digest_file = context / "digest"
    subprocess.run(
        [*buildah, "push", "--tls-verify=false", f"--digestfile={digest_file}", tag],
        check=True,
        capture_output=True,
        timeout=300,
    )
    _BUILT[REGISTRY_HOST] = f"{REGISTRY_HOST}/shop/served@{digest_file.read_text().strip()}"
    return _BUILT[REGISTRY_HOST]


@dataclasses.dataclass
class Engine:
    """The plugin's data dir and podman's runroot (short: podman allows 50 characters)."""

    data_dir: Path
    runroot: Path
    explicit_runroot: bool = True

    def podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Podman as the plugin runs it (its conf, its storage), for checks and clean-up."""
        base = self.data_dir / "containers"
        return subprocess.run(
            [
                "podman",
                f"--root={base / 'root'}",
                f"--runroot={self.runroot}",
                "--storage-driver=vfs",
                *args,
            ],
            env={"PATH": os.defpath, "CONTAINERS_CONF": str(base / "containers.conf")},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def names(self) -> list[str]:
        return self.podman("ps", "--all", "--format={{.Names}}").stdout.split()

    def container_id(self, name: str) -> str:
        return self.podman("inspect", "--format={{.Id}}", name).stdout.strip()

    def deployer(self, **options: str) -> ContainerDeployer:
        options = {
            **({"runroot": str(self.runroot)} if self.explicit_runroot else {}),
            "stop_grace": "1",
            "health_timeout": "1",
            **options,
        }
        config = DeployerConfig(self.data_dir, "http://127.0.0.1:1/platform.git", "main", options)
        return ContainerDeployer(config)


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Every container started here is removed, by name, at the end, whatever happened.

    Parametrised with "default-runroot", the plugin picks the runroot itself.
    """
    if getattr(request, "param", None) == "default-runroot":
        runroot = Path(default_runroot(tmp_path / "containers"))
        engine = Engine(tmp_path, runroot, explicit_runroot=False)
    else:
        engine = Engine(tmp_path, Path(tempfile.mkdtemp(prefix="hidp-")))
    yield engine
    if (tmp_path / "containers" / "containers.conf").exists():
        leftover = engine.names()
        if leftover:
            engine.podman("rm", "--force", "--time=0", *leftover)
    # conmon runs `podman container cleanup` when a container ends, which
    # writes to the runroot: wait for it, or it would make the dir again.
    deadline = time.monotonic() + 10
    while using(engine.runroot) and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(engine.runroot, ignore_errors=True)


def using(directory: Path) -> bool:
    """Whether a process runs with `directory` on its command line."""
    needle = str(directory).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if needle in cmdline.read_bytes():
                return True
    return False


@pytest.fixture(autouse=True)
def leave_no_containers() -> None:
    """This module's `engine` fixture removes its containers itself (by name)."""


@pytest.fixture
def deployer(engine: Engine) -> ContainerDeployer:
    return engine.deployer()


def deployment(image: str, release: int = 1, **changes: Any) -> AppDeployment:
    base = AppDeployment(
        project="shop",
        app="web",
        release=release,
        image=image,
        port=8080,
        replicas=1,
        health_path="/health",
        env={},
        manifests_path="projects/shop/apps/web/manifests",
        commit_sha="0" * 40,
        manifests={},
    )
    return dataclasses.replace(base, **changes)


async def wait_for(
    deployer: ContainerDeployer, target: AppDeployment, *states: RolloutState, seconds: float = 20
) -> RolloutStatus:
    """Poll the rollout until it is in one of `states` (the last status on timeout)."""
    status = await deployer.rollout_status(target)
    async with asyncio.timeout(seconds):
        while status.state not in states:
            await asyncio.sleep(0.1)
            status = await deployer.rollout_status(target)
    return status


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        return await client.get(url)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command line the plugin runs, exactly as `ps` would show it."""
    commands: list[list[str]] = []
    spawn = asyncio.create_subprocess_exec

    async def recording(*argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
        commands.append(list(argv))
        return await spawn(*argv, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording)
    return commands


@pytest.mark.parametrize("network", ["slirp4netns", "host"])
async def test_a_release_becomes_ready_and_answers_on_its_url(
    engine: Engine, image: str, network: str
) -> None:
    deployer = engine.deployer(network=network)
    # On the host network the app must listen where $PORT says, on loopback only.
    release = deployment(image, env={"LISTEN": "127.0.0.1"} if network == "host" else {})
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY, RolloutState.FAILED)
    assert status.state is RolloutState.READY, status.reason
    assert status.url is not None and status.url.startswith("http://127.0.0.1:")
    assert (await get(status.url)).text == "hello from the container\n"
    inspect = engine.podman("inspect", "--format={{json .Config.Labels}}", "hidp-shop-web-r1")
    assert '"home-idp.port":"' + status.url.rsplit(":", 1)[1] + '"' in inspect.stdout
    assert '"home-idp.release":"1"' in inspect.stdout
    # A server restart: a new plugin finds the port again in the labels.
    restarted = engine.deployer(network=network)
    assert await restarted.rollout_status(release) == status
    [running] = await restarted.list_running()
    assert (running.project, running.app, running.release) == ("shop", "web", 1)
    assert (running.state, running.url, running.image) == (RolloutState.READY, status.url, image)


async def test_sync_is_idempotent_and_brings_a_dead_container_back(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    release = deployment(image)
    await deployer.sync(release)
    first_id = engine.container_id("hidp-shop-web-r1")
    await deployer.sync(release)
    assert engine.container_id("hidp-shop-web-r1") == first_id
    assert engine.names() == ["hidp-shop-web-r1"]
    assert (await wait_for(deployer, release, RolloutState.READY)).state is RolloutState.READY
    await deployer.aclose()  # the apps keep running without the server
    assert engine.names() == ["hidp-shop-web-r1"]

    engine.podman("kill", "--signal=KILL", "hidp-shop-web-r1")
    status = await wait_for(deployer, release, RolloutState.FAILED)
    assert status.reason.startswith("the container exited with code 137"), status.reason
    await deployer.sync(release)
    assert engine.container_id("hidp-shop-web-r1") != first_id
    assert (await wait_for(deployer, release, RolloutState.READY)).state is RolloutState.READY


async def test_a_new_release_is_ready_without_waiting_for_the_old_one_to_stop(
    engine: Engine, image: str
) -> None:
    # The test app ignores SIGTERM, so stopping it takes the whole grace.
    deployer = engine.deployer(stop_grace="5")
    first, second = deployment(image, 1), deployment(image, 2)
    await deployer.sync(first)
    await wait_for(deployer, first, RolloutState.READY)
    await deployer.sync(second)
    await wait_for(deployer, second, RolloutState.READY)
    # Ready while the old release is still being stopped, off the release's path.
    assert "hidp-shop-web-r1" in engine.names()
    await deployer.aclose()
    assert engine.names() == ["hidp-shop-web-r2"]


async def test_a_new_release_replaces_the_old_one_once_it_is_ready(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    first, second = deployment(image, 1), deployment(image, 2)
    await deployer.sync(first)
    old = await wait_for(deployer, first, RolloutState.READY)
    await deployer.sync(second)
    # Both run until the new one is seen ready; the old one still serves meanwhile.
    assert sorted(engine.names()) == ["hidp-shop-web-r1", "hidp-shop-web-r2"]
    assert old.url is not None and (await get(old.url)).status_code == 200
    new = await wait_for(deployer, second, RolloutState.READY)
    assert new.url is not None and new.url != old.url
    # The old one is retired off the release's path; closing waits for that.
    await deployer.aclose()
    assert engine.names() == ["hidp-shop-web-r2"]
    assert (await get(new.url)).status_code == 200
    with pytest.raises(httpx.TransportError):
        await get(old.url)
    [running] = await deployer.list_running("shop")
    assert (running.release, running.url) == (2, new.url)


@pytest.mark.parametrize(
    ("changes", "state", "reason"),
    [
        (
            {"health_path": "/missing"},
            RolloutState.PROGRESSING,
            "waiting for GET /missing to answer (it answered 404)",
        ),
        (
            {"env": {"EXIT_WITH": "3"}, "secrets": {"API_TOKEN": "tok-s3cret"}},
            RolloutState.FAILED,
            # The app's own lines, quoted as log lines (plugins.support.log_excerpt).
            "the container exited with code 3: \u27e8giving up with 3, token ****\u27e9",
        ),
    ],
    ids=["health-404", "exits"],
)
async def test_a_failing_release_says_why_and_the_previous_one_keeps_serving(
    deployer: ContainerDeployer,
    engine: Engine,
    image: str,
    changes: dict[str, Any],
    state: RolloutState,
    reason: str,
) -> None:
    first = deployment(image, 1)
    await deployer.sync(first)
    old = await wait_for(deployer, first, RolloutState.READY)
    broken = deployment(image, 2, **changes)
    await deployer.sync(broken)
    await asyncio.sleep(0.5)  # time enough to answer, or to exit
    status = await wait_for(deployer, broken, state)
    assert (status.state, status.reason) == (state, reason)
    assert old.url is not None and (await get(old.url)).status_code == 200
    assert "hidp-shop-web-r1" in engine.names()
    assert await deployer.rollout_status(first) == old


async def test_an_image_the_registry_does_not_have_fails_without_showing_the_password(
    deployer: ContainerDeployer,
    engine: Engine,
    image: str,
    recorded: list[list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = image.rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    credentials = RegistryCredentials("robot", "pull-pa55word")
    release = deployment(missing, pull_credentials=credentials)
    await deployer.sync(release)
    status = await deployer.rollout_status(release)
    assert status.state is RolloutState.FAILED
    assert status.reason.startswith(f"pulling {missing} failed: "), status.reason
    assert "pull-pa55word" not in status.reason
    assert "pulling the image failed" in caplog.text
    assert "pull-pa55word" not in caplog.text
    # The credentials went through an auth file, not the command line.
    [pull] = [argv for argv in recorded if "pull" in argv]
    assert any(arg.startswith("--authfile=") for arg in pull)
    assert not any("pa55word" in arg or "robot" in arg for arg in pull)
    assert engine.names() == []
    # No auth file is left behind.
    assert list((engine.data_dir / "containers" / "private").iterdir()) == []


async def test_a_registry_that_is_away_is_worth_retrying(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    away = f"127.0.0.1:{free_port()}/shop/served@" + image.rsplit("@", 1)[1]
    with pytest.raises(DeployUnavailable, match="could not be reached"):
        await deployer.sync(deployment(away))
    assert engine.names() == []


async def test_secrets_reach_the_container_but_never_a_command_line(
    deployer: ContainerDeployer, engine: Engine, image: str, recorded: list[list[str]]
) -> None:
    secrets = {
        "API_TOKEN": "s3cret value=with 'quotes'",
        "PEM": "-----BEGIN-----\nabc\n-----END-----",
    }
    release = deployment(image, env={"GREETING": "hi there"}, secrets=secrets)
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY)
    assert status.url is not None
    environment = (await get(status.url + "/cgi-bin/env")).text
    assert "GREETING=hi there\n" in environment
    assert "API_TOKEN=s3cret value=with 'quotes'\n" in environment
    assert "PEM=-----BEGIN-----\nabc\n-----END-----\n" in environment
    assert "PORT=8080\n" in environment
    command_lines = "\n".join(" ".join(argv) for argv in recorded)
    assert "--env-file" in command_lines
    for value in ("s3cret", "BEGIN", "hi there"):
        assert value not in command_lines
    # Podman keeps the command line of a container; it holds no value either.
    create_command = engine.podman(
        "inspect", "--format={{.Config.CreateCommand}}", "hidp-shop-web-r1"
    )
    assert "hidp-shop-web-r1" in create_command.stdout
    assert "s3cret" not in create_command.stdout
    # The env file is gone once the container started.
    assert list((engine.data_dir / "containers" / "private").iterdir()) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"project": "Shop"},
        {"app": "web_app"},
        {"app": "-web"},
        {"release": -1},
        {"release": "1; rm -rf /"},
        {"image": "--privileged"},
        {"health_path": "health"},
        {"env": {"BAD NAME": "x"}},
    ],
    ids=["project", "app", "app-dash", "release", "release-str", "image", "health", "env"],
)
async def test_bad_names_are_refused_before_anything_runs(
    deployer: ContainerDeployer, engine: Engine, recorded: list[list[str]], changes: dict[str, Any]
) -> None:
    bad = dataclasses.replace(deployment(f"{REGISTRY_HOST}/shop/served:1"), **changes)
    with pytest.raises(DeployError):
        await deployer.sync(bad)
    with pytest.raises(DeployError):
        await deployer.rollout_status(bad)
    assert recorded == []
    assert not (engine.data_dir / "containers").exists()


async def test_undeploy_removes_every_container_of_the_app_only(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    web1, web2 = deployment(image, 1), deployment(image, 2, health_path="/missing")
    api = deployment(image, 1, app="api")
    other = deployment(image, 1, project="blog")
    for release in (web1, web2, api, other):
        await deployer.sync(release)
    await wait_for(deployer, web1, RolloutState.READY)
    listed = {(r.project, r.app, r.release): r.state for r in await deployer.list_running()}
    assert listed[("shop", "web", 1)] is RolloutState.READY
    assert listed[("shop", "web", 2)] is RolloutState.PROGRESSING  # it never answers /missing
    assert set(listed) == {
        ("shop", "web", 1),
        ("shop", "web", 2),
        ("shop", "api", 1),
        ("blog", "web", 1),
    }
    assert {r.project for r in await deployer.list_running("blog")} == {"blog"}

    await deployer.undeploy("shop", "web")
    assert sorted(engine.names()) == ["hidp-blog-web-r1", "hidp-shop-api-r1"]
    await deployer.undeploy("shop", "web")  # idempotent
    assert [(r.app, r.release) for r in await deployer.list_running("shop")] == [("api", 1)]
    with pytest.raises(DeployError):
        await deployer.undeploy("shop", "Web")


async def test_a_missing_engine_is_a_clear_error(engine: Engine, image: str) -> None:
    deployer = engine.deployer(engine="/nonexistent/podman")
    with pytest.raises(DeployError, match="not installed"):
        await deployer.sync(deployment(image))
    with pytest.raises(DeployError, match="podman or docker"):
        engine.deployer(engine="lxc")
    with pytest.raises(DeployError, match="slirp4netns or host"):
        engine.deployer(network="bridge")


@pytest.mark.parametrize("engine", ["default-runroot"], indirect=True)
async def test_a_data_dir_too_deep_for_podman_gets_a_short_runroot(
    engine: Engine, image: str
) -> None:
    # Podman refuses a runroot longer than 50 characters; this data dir's is longer.
    assert len(str(engine.data_dir / "containers" / "run")) > 50
    assert len(str(engine.runroot)) <= 50
    deployer = engine.deployer()
    release = deployment(image)
    await deployer.sync(release)
    assert (await wait_for(deployer, release, RolloutState.READY)).state is RolloutState.READY
    await deployer.undeploy("shop", "web")
    assert engine.names() == []
