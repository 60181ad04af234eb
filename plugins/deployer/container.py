"""The `container` deployer plugin: runs apps with podman (or docker) here (local mode default).

Each release of an app is one container, `hidp-<project>-<app>-r<release>`,
published on 127.0.0.1 at a port the plugin picks. Everything the plugin
needs later (project, app, release, port, health path) is a label on the
container, so it reads its state back from the engine after a restart.

Podman runs with a containers.conf of the plugin's own (runc, cgroupfs,
explicit ulimits, a file events log, no default network) and a private
storage root, and never on a bridge network: ports are published by
user-mode networking (slirp4netns), or the app listens on the host network
at the port it finds in `$PORT`. Env values and secrets reach the engine
through a 0600 env file (or its environment), never its command line.
Config files are bind-mounted read-only from a folder per container.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from home_idp.plugins.deployer.container_engine import (
    APP,
    HEALTH,
    NO_SUCH,
    PORT,
    PROJECT,
    RELEASE,
    ULIMITS,
    Container,
    ContainerEngine,
    last_error,
)
from home_idp.plugins.deployer.container_files import (
    check_files,
    mount_args,
    remove_files,
    write_files,
)
from home_idp.plugins.deployer.container_health import last_lines, probe
from home_idp.plugins.deployer.container_logs import stream_logs
from home_idp.plugins.deployer.contract import (
    AppDeployment,
    AppLogLine,
    AppResource,
    DeployerConfig,
    DeployError,
    DeployUnavailable,
    InstanceNotFound,
    RolloutState,
    RolloutStatus,
    RunningApp,
    StabilityReport,
)
from home_idp.plugins.deployer.labels import check_names
from home_idp.plugins.support.log_excerpt import quote_log_lines
from home_idp.plugins.support.masking import mask_secrets
from home_idp.plugins.support.options import Between, Flag, PluginOptions

__all__ = ["ContainerDeployer", "container_name"]

log = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$")
# Names the engine reads itself: a value for the app under such a name must
# not reach the engine's own environment (the multi-line route below).
_ENGINE_ENV = re.compile(
    r"^(PATH|HOME|TMPDIR|LANG|LC_\w+|XDG_\w+|_?CONTAINERS_\w+|DOCKER_\w+|PODMAN_\w+|"
    r"BUILDAH_\w+|STORAGE_\w+|REGISTRY_AUTH_FILE|NOTIFY_SOCKET)$"
)
_UNREACHABLE = re.compile(
    r"connection refused|no such host|i/o timeout|timeout|connection reset|"
    r"network is unreachable|tls handshake|\b50[234]\b",
    re.IGNORECASE,
)
_CONTAINER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,254}$")
_LIVE = frozenset({"running", "created", "configured", "initialized", "restarting"})
_PORT_ATTEMPTS = 3
_SIGKILL_EXIT = 137


def container_name(project: str, app: str, release: int) -> str:
    return f"hidp-{project}-{app}-r{release}"


def _network(network: str) -> str:
    if network not in ("slirp4netns", "host"):
        raise ValueError("must be slirp4netns or host (never a bridge)")
    return network


class ContainerOptions(PluginOptions):
    """The container deployer's options (see `ContainerDeployer`)."""

    engine: str = "podman"
    network: Annotated[str, AfterValidator(_network)] = ""
    root: str = ""
    runroot: str = ""
    storage_driver: str = "vfs"
    insecure_registry: Flag = False
    memory: str = ""
    cpus: str = ""
    stop_grace: Annotated[int, Between(0, 3600)] = 2
    health_timeout: Annotated[float, Between(0.01, 600)] = 2.0
    drain_seconds: Annotated[float, Between(0, 600)] = 1.0


class ContainerDeployer:
    """Runs each app's image in a container on this machine, on 127.0.0.1.

    Options: `engine` (`podman`, the default, or `docker`), `network`
    (`slirp4netns`, podman's default here, or `host`; never a bridge),
    `root`, `runroot` and `storage_driver` (podman's storage, default under
    `<data dir>/containers`, the runroot in /run when that path is too long
    for podman, and `vfs`), `insecure_registry` ("true" pulls over
    plain HTTP; always so for a registry on 127.0.0.1/localhost), `memory`
    and `cpus` (limits, none by default), `stop_grace` (seconds before an
    old release is killed, default 2), `health_timeout` (seconds, default 2),
    `drain_seconds` (how long an old release keeps running after the new one
    is ready, for requests already on their way to it; default 1).

    A release's config files live in `<data dir>/containers/files/<container>/`
    as long as its container does, bind-mounted read-only into it.
    """

    def __init__(self, config: DeployerConfig) -> None:
        options = ContainerOptions.read(config.options, "the container deployer", DeployError)
        base = config.data_dir / "containers"
        self._engine = ContainerEngine(
            options.engine,
            base,
            root=options.root,
            runroot=options.runroot,
            storage_driver=options.storage_driver,
        )
        self._files = base / "files"
        # Without slirp4netns, the host network is the only one allowed here.
        slirp = not self._engine.docker and shutil.which("slirp4netns") is not None
        self._network = options.network or ("slirp4netns" if slirp else "host")
        self._insecure = options.insecure_registry
        self._limits = [
            f"--{name}={value}"
            for name, value in (("memory", options.memory), ("cpus", options.cpus))
            if value
        ]
        self._memory_limited = bool(options.memory)
        self._grace = options.stop_grace
        self._health_timeout = options.health_timeout
        self._drain = options.drain_seconds
        self._failures: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Per app, the last retirement of its older releases (see `_retire_later`).
        self._retiring: dict[tuple[str, str], asyncio.Task[None]] = {}

    # -- the contract ----------------------------------------------------------

    async def sync(self, deployment: AppDeployment) -> None:
        """Start the release's container unless it runs; older releases keep running.

        A pull the registry refuses, or an image that cannot start, is not an
        exception: `rollout_status` reports it as FAILED with the engine's words.
        """
        name = _check_deployment(deployment)
        self._engine.prepare()
        async with self._locks.setdefault(name, asyncio.Lock()):
            self._failures.pop(name, None)
            existing = await self._engine.inspect_one(name)
            if existing is not None:
                if (existing.project, existing.app) != (deployment.project, deployment.app):
                    raise DeployError(f"the container name {name} is taken by another app")
                if existing.status == "running" and existing.image == deployment.image:
                    return
                # Dead, never started, or left by an earlier app of the same name
                # running another image: a fresh container is the only way on.
                await self._remove([name])
            if await self._pull(deployment, name):
                await self._start(deployment, name)

    async def rollout_status(self, deployment: AppDeployment) -> RolloutStatus:
        """READY once the container answers its health path; then older releases go."""
        name = _check_deployment(deployment)
        self._engine.prepare()
        failure = self._failures.get(name)
        if failure is not None:
            return RolloutStatus(RolloutState.FAILED, failure)
        container = await self._engine.inspect_one(name)
        if container is None:
            reason = f"no container runs release {deployment.release}"
            return RolloutStatus(RolloutState.FAILED, reason)
        if container.status == "running":
            problem = await self._probe(container, deployment.health_path)
            if problem is not None:
                reason = f"waiting for GET {deployment.health_path} to answer ({problem})"
                return RolloutStatus(RolloutState.PROGRESSING, reason, container.url)
            self._retire_later(container)
            return RolloutStatus(RolloutState.READY, url=container.url)
        if container.status in _LIVE:
            return RolloutStatus(RolloutState.PROGRESSING, "the container is starting")
        if container.status in ("exited", "stopped", "dead"):
            lines = await last_lines(self._engine, name, deployment.secrets.values())
            reason = f"the container exited with code {container.exit_code}"
            if lines:
                reason += ": " + quote_log_lines(lines)
            return RolloutStatus(RolloutState.FAILED, reason)
        return RolloutStatus(RolloutState.PROGRESSING, f"the container is {container.status}")

    async def stability(self, deployment: AppDeployment) -> StabilityReport:
        """The release's container as `inspect` shows it (restarts, exit code, killed
        for memory) and whether it still answers its health path."""
        name = _check_deployment(deployment)
        self._engine.prepare()
        container = await self._engine.inspect_one(name)
        if container is None:
            return StabilityReport(ready=False, running=False)
        running = container.status == "running"
        ready = running and await self._probe(container, deployment.health_path) is None
        ended = container.status not in _LIVE
        # runc under cgroup v1 does not always tell podman of an OOM kill: a memory-
        # limited container killed by SIGKILL (exit 137) is taken as one.
        killed = ended and container.exit_code == _SIGKILL_EXIT
        lines: list[str] = []
        if not ready or container.restarts:
            lines = await last_lines(self._engine, name, deployment.secrets.values())
        return StabilityReport(
            ready=ready,
            running=not ended,
            restarts=container.restarts,
            # A container that never stopped reports 0: no exit to speak of.
            exit_code=container.exit_code if ended or container.restarts else None,
            oom_killed=container.oom_killed or (killed and self._memory_limited),
            log_lines=tuple(lines),
        )

    async def discard(self, deployment: AppDeployment) -> None:
        """Remove the failed release's container (and its files); others stay."""
        name = _check_deployment(deployment)
        self._engine.prepare()
        async with self._locks.setdefault(name, asyncio.Lock()):
            self._failures.pop(name, None)
            existing = await self._engine.inspect_one(name)
            mine = (deployment.project, deployment.app, deployment.release)
            # Names can collide across apps (shop-web/api and shop/web-api): only
            # the failed release's own container goes.
            if existing is None or (existing.project, existing.app, existing.release) != mine:
                return
            await self._remove([name])
        log.info("release %s failed: its container is removed", name)

    async def undeploy(self, project: str, app: str) -> None:
        """Stop and remove every container of the app; idempotent."""
        check_names(project, app)
        self._engine.prepare()
        containers = await self._engine.containers(project, app)
        await self._remove([c.name for c in containers])
        prefix = container_name(project, app, 0)[:-1]
        self._failures = {n: r for n, r in self._failures.items() if not n.startswith(prefix)}
        # Files of containers removed behind the plugin's back go too.
        release_name = re.compile(re.escape(prefix) + r"\d+")
        if self._files.is_dir():
            for folder in self._files.iterdir():
                if release_name.fullmatch(folder.name):
                    remove_files(folder)

    async def list_running(self, project: str | None = None) -> list[RunningApp]:
        """Every container of home-idp (of one project), READY when it answers its health path."""
        if project is not None:
            check_names(project)
        self._engine.prepare()
        containers = await self._engine.containers(project)
        problems = await asyncio.gather(
            *(self._probe(c, c.health_path) for c in containers if c.status == "running")
        )
        health, running = iter(problems), []
        for c in containers:
            if c.status == "running" and next(health) is None:
                state = RolloutState.READY
            else:
                state = RolloutState.PROGRESSING if c.status in _LIVE else RolloutState.FAILED
            url = c.url if c.status == "running" else None
            running.append(RunningApp(c.project, c.app, c.release, c.image, state, url))
        return sorted(running, key=lambda r: (r.project, r.app, r.release or 0))

    async def app_resources(self, project: str, app: str) -> list[AppResource]:
        """One `Container` per release of the app: its state, whether it answers its
        health path, its restarts and where its config files are mounted."""
        check_names(project, app)
        self._engine.prepare()
        containers = sorted(await self._engine.containers(project, app), key=_by_release)
        problems = await asyncio.gather(
            *(self._probe(c, c.health_path) for c in containers if c.status == "running")
        )
        health, resources = iter(problems), []
        for c in containers:
            ready = c.status == "running" and next(health) is None
            status = f"exited (code {c.exit_code})" if c.status == "exited" else c.status
            resources.append(
                AppResource(
                    kind="Container",
                    name=c.name,
                    status=status,
                    ready=ready,
                    phase=c.status,
                    restarts=c.restarts,
                    release=c.release,
                    keys=c.bind_mounts,
                    created_at=c.created_at,
                )
            )
        return resources

    async def app_logs(
        self, project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncGenerator[AppLogLine, None]:
        """The last `tail_lines` lines of each running container of the app (stdout and
        stderr), then, with `follow`, new lines as they are written, interleaved.

        No running container: nothing, at once. Lines are cut at
        container_logs.MAX_LINE characters. Closing the generator kills every
        `logs` process it started.
        """
        check_names(project, app)
        if isinstance(tail_lines, bool) or not isinstance(tail_lines, int) or tail_lines < 0:
            raise DeployError(f"tail_lines must be a non-negative integer, not {tail_lines!r}")
        self._engine.prepare()
        containers = sorted(await self._engine.containers(project, app), key=_by_release)
        running = [c.name for c in containers if c.status == "running"]
        # aclosing: closing this generator closes the stream at once, not at garbage collection.
        async with contextlib.aclosing(
            stream_logs(self._engine, running, follow=follow, tail_lines=tail_lines)
        ) as lines:
            async for line in lines:
                yield line

    async def delete_instance(self, project: str, app: str, name: str) -> None:
        """Restart the app's container `name` (locally, a fresh pod is a restarted container).

        The app gets `stop_grace` seconds after SIGTERM, then SIGKILL (a
        busybox PID 1 ignores SIGTERM). Raises InstanceNotFound when `name`
        is not a container of the app.
        """
        check_names(project, app)
        if not isinstance(name, str) or not _CONTAINER_NAME.fullmatch(name):
            raise InstanceNotFound(f"no container {str(name)[:80]!r} runs the app")
        self._engine.prepare()
        async with self._locks.setdefault(name, asyncio.Lock()):
            if name not in {c.name for c in await self._engine.containers(project, app)}:
                raise InstanceNotFound(f"no container {name} runs the app")
            code, _, err = await self._engine.exec(["restart", "--time", str(self._grace), name])
        if code != 0:
            if NO_SUCH.search(err):
                raise InstanceNotFound(f"no container {name} runs the app")
            raise DeployUnavailable(f"restarting {name} failed: {last_error(err)}")
        log.info("container %s restarted", name)

    async def aclose(self) -> None:
        """Finish retiring older releases; the apps themselves keep running without the server."""
        await asyncio.gather(*self._retiring.values(), return_exceptions=True)

    # -- steps -----------------------------------------------------------------

    async def _pull(self, deployment: AppDeployment, name: str) -> bool:
        """Pull the image (unless a pinned one is here); False when the registry refused."""
        image = deployment.image
        # A pinned image that is here already needs no registry (a restart of a dead one).
        if "@sha256:" in image and (await self._engine.exec(["image", "inspect", image]))[0] == 0:
            return True
        secrets: list[str] = []
        auth_dir: Path | None = None
        global_args, pull = [], ["pull"]
        host = image.split("/", 1)[0] if "/" in image else ""
        credentials = deployment.pull_credentials
        if credentials is not None:
            token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
            secrets = [credentials.password, token.decode()]
            auth_dir = Path(tempfile.mkdtemp(dir=self._engine.private))
            auth = json.dumps({"auths": {host: {"auth": token.decode()}}})
            _write_private(auth_dir / "config.json", auth)
            if self._engine.docker:
                global_args = [f"--config={auth_dir}"]
            else:
                pull.append(f"--authfile={auth_dir / 'config.json'}")
        if not self._engine.docker and (self._insecure or _is_loopback(host)):
            pull.append("--tls-verify=false")
        try:
            code, _, err = await self._engine.exec(
                [*pull, image], global_args=global_args, slow=True
            )
        finally:
            if auth_dir is not None:
                shutil.rmtree(auth_dir, ignore_errors=True)
        if code == 0:
            return True
        message = _mask(last_error(err), secrets)
        if _UNREACHABLE.search(message):
            raise DeployUnavailable(f"the registry could not be reached: {message}")
        self._failures[name] = f"pulling {image} failed: {message}"
        log.warning("release %s: pulling the image failed: %s", name, message)
        return False

    async def _start(self, deployment: AppDeployment, name: str) -> None:
        try:
            await self._run(deployment, name)
        except BaseException:
            # The container may be gone or never made: its files go with it.
            remove_files(self._files / name)
            raise

    async def _run(self, deployment: AppDeployment, name: str) -> None:
        env = {**deployment.env, **deployment.secrets}
        secrets = deployment.secrets.values()
        for attempt in range(_PORT_ATTEMPTS):
            port = _free_port()
            listen = port if self._network == "host" else deployment.port
            # The app learns where to listen; on the host network it must be ours.
            file_env, engine_env = _split_env({**env, "PORT": str(listen)})
            # Written afresh at each attempt: a failed one removed them with its container.
            files = write_files(self._files / name, deployment.files) if deployment.files else []
            env_file = self._engine.private / f"{name}.env"
            _write_private(env_file, "".join(f"{k}={v}\n" for k, v in file_env.items()))
            labels = {
                PROJECT: deployment.project,
                APP: deployment.app,
                RELEASE: str(deployment.release),
                PORT: str(port),
                HEALTH: deployment.health_path,
            }
            argv = ["run", "--detach", f"--name={name}", "--restart=no", "--pull=never"]
            argv += [f"--label={k}={v}" for k, v in labels.items()]
            argv += [f"--ulimit={u}" for u in ULIMITS] + [f"--network={self._network}"]
            if self._network != "host":
                argv.append(f"--publish=127.0.0.1:{port}:{listen}")
            # Values with line breaks: the engine takes them from its environment.
            argv += [f"--env-file={env_file}", *(f"--env={k}" for k in engine_env)]
            argv += [*mount_args(files), *self._limits, deployment.image]
            try:
                code, _, err = await self._engine.exec(argv, env=engine_env)
            finally:
                env_file.unlink(missing_ok=True)
            if code == 0:
                log.info("release %s started on 127.0.0.1:%d", name, port)
                return
            message = _mask(last_error(err), secrets)
            # A failed run can leave a created container behind.
            await self._remove([name])
            if "address already in use" in message and attempt + 1 < _PORT_ATTEMPTS:
                continue
            if code in (126, 127):  # the image's command could not be run: the app's fault
                self._failures[name] = f"the container could not start: {message}"
                return
            raise DeployUnavailable(f"{self._engine.kind} run failed: {message}")

    async def _probe(self, container: Container, path: str) -> str | None:
        """None when the app answers `path` with 2xx/3xx; otherwise what it did."""
        return await probe(container, path, self._health_timeout)

    def _retire_later(self, ready: Container) -> None:
        """Retire the app's other releases in the background.

        The new release serves already; stopping an old one takes up to its
        stop grace (an app that ignores SIGTERM takes all of it), which is no
        part of the release. The old ones first keep running for the drain
        time: the new release becomes the app's live one (where its stable
        address points) only after this, and requests may be on their way to
        the old one. Retirements of one app run one after the other.
        """
        key = (ready.project, ready.app)
        before = self._retiring.get(key)

        async def retire() -> None:
            if before is not None:
                await asyncio.wait([before])
            # Chosen now: a release started during the drain is not for this one to judge.
            others = await self._others_than(ready)
            await asyncio.sleep(self._drain)
            try:
                await self._remove(others)
            except DeployError as error:
                # They go at the next READY, or at undeploy; this release serves anyway.
                log.warning("could not remove the older containers of %s: %s", ready.name, error)

        task = asyncio.create_task(retire(), name=f"retire-older-than-{ready.name}")
        self._retiring[key] = task
        task.add_done_callback(lambda done: self._retired(key, done))

    def _retired(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._retiring.get(key) is task:
            del self._retiring[key]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "retiring the older releases of %s/%s failed", *key, exc_info=task.exception()
            )

    async def _others_than(self, ready: Container) -> list[str]:
        """The app's older releases, and newer ones that died; newer live ones stay."""
        containers = await self._engine.containers(ready.project, ready.app)
        newer = {c.name for c in containers if (c.release or 0) > (ready.release or 0)}
        return [
            c.name
            for c in containers
            if c.name != ready.name and (c.name not in newer or c.status not in _LIVE)
        ]

    async def _remove(self, names: Sequence[str]) -> None:
        """Stop and remove the containers, then their config files."""
        await self._engine.remove(names, self._grace)
        # Only once the containers are gone: a running one may still restart and mount them.
        for name in names:
            remove_files(self._files / name)


def _check_deployment(deployment: AppDeployment) -> str:
    """Refuse what could reach the engine's command line wrongly; the container name."""
    check_names(deployment.project, deployment.app)
    release = deployment.release
    if isinstance(release, bool) or not isinstance(release, int) or release < 0:
        raise DeployError(f"the release must be a non-negative integer, not {release!r}")
    if isinstance(deployment.port, bool) or not 0 < deployment.port < 65536:
        raise DeployError(f"the app port {deployment.port!r} is not a TCP port")
    path = deployment.health_path
    if not path.startswith("/") or len(path) > 1024 or not path.isprintable() or " " in path:
        raise DeployError(f"the health path {path[:80]!r} is not usable")
    image = deployment.image
    if not re.fullmatch(r"[^-\s][^\s]{0,511}", image) or not image.isprintable():
        raise DeployError(f"the image reference {image[:80]!r} is not usable")
    for key, value in [*deployment.env.items(), *deployment.secrets.items()]:
        if not _ENV_NAME.fullmatch(key):
            raise DeployError(f"{key[:80]!r} is not a usable environment variable name")
        if "\0" in value:
            raise DeployError(f"the value of {key} holds a NUL character")
    check_files(deployment.files)
    return container_name(deployment.project, deployment.app, release)


def _by_release(container: Container) -> tuple[int, str]:
    return container.release or 0, container.name


def _split_env(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(for the env file, for the engine's environment: values with line breaks)."""
    in_file: dict[str, str] = {}
    in_environment: dict[str, str] = {}
    for key, value in env.items():
        if "\n" not in value and "\r" not in value:
            in_file[key] = value
        elif _ENGINE_ENV.fullmatch(key):
            raise DeployError(f"{key} cannot hold a value with line breaks")
        else:
            in_environment[key] = value
    return in_file, in_environment


def _is_loopback(host: str) -> bool:
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    return name in ("localhost", "::1") or name.startswith("127.")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file an interrupted start left behind may be older
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def _mask(text: str, secrets: Iterable[str]) -> str:
    return mask_secrets(text, secrets)
