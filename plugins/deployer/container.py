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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from home_idp.plugins.contracts import (
    AppDeployment,
    DeployerConfig,
    DeployError,
    DeployUnavailable,
    RolloutState,
    RolloutStatus,
    RunningApp,
)
from home_idp.plugins.deployer.labels import check_names

__all__ = ["ContainerDeployer", "container_name"]

log = logging.getLogger(__name__)

PROJECT = "home-idp.project"
APP = "home-idp.app"
RELEASE = "home-idp.release"
PORT = "home-idp.port"
HEALTH = "home-idp.health-path"

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
_NO_SUCH = re.compile(r"no such (object|container)", re.IGNORECASE)
_LIVE = frozenset({"running", "created", "configured", "initialized", "restarting"})
_ULIMITS = ("nofile=20000:20000", "nproc=32768:32768")
_PORT_ATTEMPTS = 3
# The only configuration podman runs with on this kind of host (crun and the
# default rlimits fail). A container started without --network gets none,
# never a bridge; exit files, locks and events stay with the plugin's storage.
_CONTAINERS_CONF = """[containers]
default_ulimits = {ulimits}
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = {tmp_dir}
"""
_MAX_RUNROOT = 50


def container_name(project: str, app: str, release: int) -> str:
    return f"hidp-{project}-{app}-r{release}"


@dataclass(frozen=True)
class _Container:
    name: str
    project: str
    app: str
    release: int | None
    port: int | None
    health_path: str
    image: str
    status: str
    exit_code: int

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port else None


class ContainerDeployer:
    """Runs each app's image in a container on this machine, on 127.0.0.1.

    Options: `engine` (`podman`, the default, or `docker`), `network`
    (`slirp4netns`, podman's default here, or `host`; never a bridge),
    `root`, `runroot` and `storage_driver` (podman's storage, default under
    `<data dir>/containers`, the runroot in /run when that path is too long
    for podman, and `vfs`), `insecure_registry` ("true" pulls over
    plain HTTP; always so for a registry on 127.0.0.1/localhost), `memory`
    and `cpus` (limits, none by default), `stop_grace` (seconds before an
    old release is killed, default 2), `health_timeout` (seconds, default 2).
    """

    def __init__(self, config: DeployerConfig) -> None:
        options = config.options
        self._engine = options.get("engine", "podman")
        self._kind = Path(self._engine).name
        if self._kind not in ("podman", "docker"):
            raise DeployError(f"the container engine must be podman or docker: {self._engine!r}")
        self._docker = self._kind == "docker"
        self._base = config.data_dir / "containers"
        self._private = self._base / "private"
        self._conf = self._base / "containers.conf"
        self._runroot = options.get("runroot") or _default_runroot(self._base)
        if len(self._runroot) > _MAX_RUNROOT and not self._docker:
            raise DeployError(f"podman's runroot must be at most {_MAX_RUNROOT} characters long")
        root = options.get("root", str(self._base / "root"))
        driver = options.get("storage_driver", "vfs")
        self._global = (
            []
            if self._docker
            else [f"--root={root}", f"--runroot={self._runroot}", f"--storage-driver={driver}"]
        )
        # Without slirp4netns, the host network is the only one allowed here.
        slirp = not self._docker and shutil.which("slirp4netns") is not None
        self._network = options.get("network", "slirp4netns" if slirp else "host")
        if self._network not in ("slirp4netns", "host"):
            raise DeployError(f"the network must be slirp4netns or host, not {self._network!r}")
        self._insecure = options.get("insecure_registry", "false").lower() == "true"
        self._limits = [f"--{o}={options[o]}" for o in ("memory", "cpus") if options.get(o)]
        try:
            self._grace = int(options.get("stop_grace", "2"))
            self._health_timeout = float(options.get("health_timeout", "2"))
        except ValueError:
            raise DeployError("stop_grace and health_timeout must be numbers") from None
        self._failures: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._prepared = False

    # -- the contract ----------------------------------------------------------

    async def sync(self, deployment: AppDeployment) -> None:
        """Start the release's container unless it runs; older releases keep running.

        A pull the registry refuses, or an image that cannot start, is not an
        exception: `rollout_status` reports it as FAILED with the engine's words.
        """
        name = _check_deployment(deployment)
        self._prepare()
        async with self._locks.setdefault(name, asyncio.Lock()):
            self._failures.pop(name, None)
            existing = await self._inspect_one(name)
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
        self._prepare()
        failure = self._failures.get(name)
        if failure is not None:
            return RolloutStatus(RolloutState.FAILED, failure)
        container = await self._inspect_one(name)
        if container is None:
            reason = f"no container runs release {deployment.release}"
            return RolloutStatus(RolloutState.FAILED, reason)
        if container.status == "running":
            problem = await self._probe(container, deployment.health_path)
            if problem is not None:
                reason = f"waiting for GET {deployment.health_path} to answer ({problem})"
                return RolloutStatus(RolloutState.PROGRESSING, reason, container.url)
            await self._retire_others(container)
            return RolloutStatus(RolloutState.READY, url=container.url)
        if container.status in _LIVE:
            return RolloutStatus(RolloutState.PROGRESSING, "the container is starting")
        if container.status in ("exited", "stopped", "dead"):
            code, out, _ = await self._exec(["logs", "--tail=5", name], merge=True)
            # Masked before it is cut or joined: a cut secret no longer matches.
            out = _mask(out, deployment.secrets.values()) if code == 0 else ""
            lines = [line for line in out.splitlines() if line.strip()][-5:]
            reason = f"the container exited with code {container.exit_code}"
            if lines:
                reason += ": " + " | ".join(line[:500] for line in lines)
            return RolloutStatus(RolloutState.FAILED, reason)
        return RolloutStatus(RolloutState.PROGRESSING, f"the container is {container.status}")

    async def undeploy(self, project: str, app: str) -> None:
        """Stop and remove every container of the app; idempotent."""
        check_names(project, app)
        self._prepare()
        containers = await self._containers(project, app)
        await self._remove([c.name for c in containers])
        prefix = container_name(project, app, 0)[:-1]
        self._failures = {n: r for n, r in self._failures.items() if not n.startswith(prefix)}

    async def list_running(self, project: str | None = None) -> list[RunningApp]:
        """Every container of home-idp (of one project), READY when it answers its health path."""
        if project is not None:
            check_names(project)
        self._prepare()
        containers = await self._containers(project)
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

    async def aclose(self) -> None:
        """Nothing to close: the apps keep running without the server."""

    # -- steps -----------------------------------------------------------------

    async def _pull(self, deployment: AppDeployment, name: str) -> bool:
        """Pull the image (unless a pinned one is here); False when the registry refused."""
        image = deployment.image
        # A pinned image that is here already needs no registry (a restart of a dead one).
        if "@sha256:" in image and (await self._exec(["image", "inspect", image]))[0] == 0:
            return True
        secrets: list[str] = []
        auth_dir: Path | None = None
        global_args, pull = [], ["pull"]
        host = image.split("/", 1)[0] if "/" in image else ""
        credentials = deployment.pull_credentials
        if credentials is not None:
            token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
            secrets = [credentials.password, token.decode()]
            auth_dir = Path(tempfile.mkdtemp(dir=self._private))
            auth = json.dumps({"auths": {host: {"auth": token.decode()}}})
            _write_private(auth_dir / "config.json", auth)
            if self._docker:
                global_args = [f"--config={auth_dir}"]
            else:
                pull.append(f"--authfile={auth_dir / 'config.json'}")
        if not self._docker and (self._insecure or _is_loopback(host)):
            pull.append("--tls-verify=false")
        try:
            code, _, err = await self._exec([*pull, image], global_args=global_args, slow=True)
        finally:
            if auth_dir is not None:
                shutil.rmtree(auth_dir, ignore_errors=True)
        if code == 0:
            return True
        message = _mask(_last_error(err), secrets)
        if _UNREACHABLE.search(message):
            raise DeployUnavailable(f"the registry could not be reached: {message}")
        self._failures[name] = f"pulling {image} failed: {message}"
        log.warning("release %s: pulling the image failed: %s", name, message)
        return False

    async def _start(self, deployment: AppDeployment, name: str) -> None:
        env = {**deployment.env, **deployment.secrets}
        secrets = deployment.secrets.values()
        for attempt in range(_PORT_ATTEMPTS):
            port = _free_port()
            listen = port if self._network == "host" else deployment.port
            # The app learns where to listen; on the host network it must be ours.
            file_env, engine_env = _split_env({**env, "PORT": str(listen)})
            env_file = self._private / f"{name}.env"
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
            argv += [f"--ulimit={u}" for u in _ULIMITS] + [f"--network={self._network}"]
            if self._network != "host":
                argv.append(f"--publish=127.0.0.1:{port}:{listen}")
            # Values with line breaks: the engine takes them from its environment.
            argv += [f"--env-file={env_file}", *(f"--env={k}" for k in engine_env)]
            argv += [*self._limits, deployment.image]
            try:
                code, _, err = await self._exec(argv, env=engine_env)
            finally:
                env_file.unlink(missing_ok=True)
            if code == 0:
                log.info("release %s started on 127.0.0.1:%d", name, port)
                return
            message = _mask(_last_error(err), secrets)
            # A failed run can leave a created container behind.
            await self._remove([name])
            if "address already in use" in message and attempt + 1 < _PORT_ATTEMPTS:
                continue
            if code in (126, 127):  # the image's command could not be run: the app's fault
                self._failures[name] = f"the container could not start: {message}"
                return
            raise DeployUnavailable(f"{self._kind} run failed: {message}")

    async def _probe(self, container: _Container, path: str) -> str | None:
        """None when the app answers `path` with 2xx/3xx; otherwise what it did."""
        if container.url is None:
            return "the container has no port label"
        try:
            async with httpx.AsyncClient(
                timeout=self._health_timeout, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.get(container.url + path)
        except httpx.HTTPError:
            return "no answer yet"
        if 200 <= response.status_code < 400:
            return None
        return f"it answered {response.status_code}"

    async def _retire_others(self, ready: _Container) -> None:
        """Remove the app's older releases, and newer ones that died; newer live ones stay."""
        containers = await self._containers(ready.project, ready.app)
        newer = {c.name for c in containers if (c.release or 0) > (ready.release or 0)}
        others = [
            c.name
            for c in containers
            if c.name != ready.name and (c.name not in newer or c.status not in _LIVE)
        ]
        try:
            await self._remove(others)
        except DeployError as error:
            # They go at the next READY, or at undeploy; this release serves anyway.
            log.warning("could not remove the older containers of %s: %s", ready.name, error)

    # -- the engine ------------------------------------------------------------

    def _prepare(self) -> None:
        """Check the engine and write the plugin's containers.conf (once)."""
        if shutil.which(self._engine) is None:
            raise DeployError(f"{self._engine} is not installed on this machine")
        if self._prepared:
            return
        self._private.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._private.chmod(0o700)
        if not self._docker:
            # A JSON string is a valid TOML basic string.
            tmp_dir = json.dumps(str(Path(self._runroot) / "libpod"))
            partial = self._conf.with_suffix(".tmp")
            partial.write_text(
                _CONTAINERS_CONF.format(ulimits=json.dumps(_ULIMITS), tmp_dir=tmp_dir)
            )
            partial.replace(self._conf)
        self._prepared = True

    async def _exec(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        global_args: Sequence[str] = (),
        merge: bool = False,
        slow: bool = False,
    ) -> tuple[int, str, str]:
        """Run one engine command; (exit code, stdout, stderr)."""
        base = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        if not self._docker:
            # Neither the machine's nor root's container config takes part.
            base |= {"CONTAINERS_CONF": str(self._conf), "HOME": str(self._base)}
        elif "HOME" in os.environ:
            base["HOME"] = os.environ["HOME"]  # the docker CLI finds its context there
        argv = [self._engine, *self._global, *global_args, *args]
        # Output goes to files, not pipes: `run --detach` leaves conmon and
        # slirp4netns behind, which may hold a pipe open long after podman exits.
        with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out_file,
                    stderr=out_file if merge else err_file,
                    env={**(env or {}), **base},
                )
            except OSError as error:
                raise DeployUnavailable(f"{self._engine} could not run: {error.strerror}") from None
            limit = 600 if slow else 60
            try:
                async with asyncio.timeout(limit):
                    code = await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise DeployUnavailable(f"{self._engine} {args[0]} took over {limit} s") from None
            out, err = await asyncio.to_thread(_read_both, out_file, err_file)
        return code, out, err

    async def _inspect(self, names: Sequence[str]) -> list[_Container]:
        if not names:
            return []
        code, out, err = await self._exec(["inspect", "--type", "container", *names])
        if code != 0 and not _NO_SUCH.search(err):
            raise DeployUnavailable(f"inspecting containers failed: {_last_error(err)}")
        try:
            found = json.loads(out or "[]")
        except ValueError:
            raise DeployUnavailable("the engine answered inspect with something else") from None
        return [c for c in map(_parse, found or []) if c is not None]

    async def _inspect_one(self, name: str) -> _Container | None:
        found = [c for c in await self._inspect([name]) if c.name == name]
        return found[0] if found else None

    async def _containers(self, project: str | None, app: str | None = None) -> list[_Container]:
        label = f"label={PROJECT}" if project is None else f"label={PROJECT}={project}"
        code, out, err = await self._exec(
            ["ps", "--all", "--quiet", "--no-trunc", f"--filter={label}"]
        )
        if code != 0:
            raise DeployUnavailable(f"listing containers failed: {_last_error(err)}")
        containers = await self._inspect(out.split())
        return [c for c in containers if app is None or c.app == app]

    async def _remove(self, names: Sequence[str]) -> None:
        """Stop (KILL after the grace: a busybox PID 1 ignores SIGTERM) and remove."""
        if not names:
            return
        if self._docker:
            await self._exec(["stop", "--time", str(self._grace), *names])
            command = ["rm", "--force", *names]
        else:
            command = ["rm", "--force", "--ignore", "--time", str(self._grace), *names]
        code, _, err = await self._exec(command)
        if code != 0 and not _NO_SUCH.search(err):
            raise DeployUnavailable(f"removing containers failed: {_last_error(err)}")


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
    return container_name(deployment.project, deployment.app, release)


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


def _parse(data: Any) -> _Container | None:
    try:
        labels = data["Config"].get("Labels") or {}
        if PROJECT not in labels or APP not in labels:
            return None
        state = data["State"]
        return _Container(
            name=str(data["Name"]).lstrip("/"),  # docker puts a "/" first
            project=labels[PROJECT],
            app=labels[APP],
            release=_int(labels.get(RELEASE)),
            port=_int(labels.get(PORT)),
            health_path=labels.get(HEALTH, "/"),
            image=str(data.get("ImageName") or data["Config"].get("Image") or ""),
            status=str(state.get("Status", "unknown")).lower(),
            exit_code=int(state.get("ExitCode") or 0),
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _default_runroot(base: Path) -> str:
    preferred = str(base / "run")
    if len(preferred) <= _MAX_RUNROOT:
        return preferred
    # Podman refuses a longer runroot (its sockets' paths must fit); its state
    # there is gone at a reboot anyway, as everything under /run is.
    digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
    parent = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    return f"{parent}/home-idp-{digest}"


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


def _last_error(stderr: str) -> str:
    """The engine's last words: its `Error:` line, without the retry chatter."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    return (errors or lines or ["no message"])[-1][:1000]


def _read_both(out_file: IO[bytes], err_file: IO[bytes]) -> tuple[str, str]:
    texts = []
    for handle in (out_file, err_file):
        handle.seek(0)
        texts.append(handle.read().decode(errors="replace"))
    return texts[0], texts[1]


def _mask(text: str, secrets: Iterable[str]) -> str:
    # Each line of a multi-line secret (a PEM key) is masked on its own too.
    wholes = {s for s in secrets if s}
    parts = wholes | {line for s in wholes for line in s.splitlines() if len(line) >= 4}
    for secret in sorted(parts, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
