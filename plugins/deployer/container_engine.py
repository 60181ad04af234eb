"""The container engine's command line, as the `container` deployer runs it.

Podman runs with a containers.conf of the plugin's own and a private storage
root; neither the machine's nor root's container configuration takes part.
Every command gets a fixed, small environment. Containers are read back
from `inspect` into `Container`, labels included, so the plugin's state
lives in the engine, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from home_idp.plugins.deployer.contract import DeployError, DeployUnavailable

__all__ = [
    "APP",
    "HEALTH",
    "NO_SUCH",
    "PORT",
    "PROJECT",
    "RELEASE",
    "ULIMITS",
    "Container",
    "ContainerEngine",
    "default_runroot",
    "last_error",
]

PROJECT = "home-idp.project"
APP = "home-idp.app"
RELEASE = "home-idp.release"
PORT = "home-idp.port"
HEALTH = "home-idp.health-path"

NO_SUCH = re.compile(r"no such (object|container)", re.IGNORECASE)
ULIMITS = ("nofile=20000:20000", "nproc=32768:32768")
MAX_RUNROOT = 50
# The only configuration podman runs with on this kind of host (crun and the
# default rlimits fail). A container started without --network gets none,
# never a bridge; exit files, locks and events stay with the plugin's storage.
# k8s-file logs: `podman logs` reads them itself, with no journald to ask.
_CONTAINERS_CONF = """[containers]
default_ulimits = {ulimits}
netns = "none"
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = {tmp_dir}
"""


@dataclass(frozen=True)
class Container:
    """One container of home-idp as `inspect` shows it, labels read back."""

    name: str
    project: str
    app: str
    release: int | None
    port: int | None
    health_path: str
    image: str
    status: str
    exit_code: int
    restarts: int = 0
    # The kernel killed it for passing its memory limit (its last exit).
    oom_killed: bool = False
    created_at: str | None = None
    # Where the container sees its bind mounts (the config files).
    bind_mounts: tuple[str, ...] = ()

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port else None


class ContainerEngine:
    """Runs podman (or docker) commands with the plugin's config, storage and environment."""

    def __init__(
        self, program: str, base: Path, *, root: str, runroot: str, storage_driver: str
    ) -> None:
        """`root` and `runroot` are podman's storage, blank for the defaults under `base`."""
        self.program = program
        self.kind = Path(program).name
        if self.kind not in ("podman", "docker"):
            raise DeployError(f"the container engine must be podman or docker: {program!r}")
        self.docker = self.kind == "docker"
        self._base = base
        self.private = base / "private"
        self._conf = base / "containers.conf"
        self._runroot = runroot or default_runroot(base)
        if len(self._runroot) > MAX_RUNROOT and not self.docker:
            raise DeployError(f"podman's runroot must be at most {MAX_RUNROOT} characters long")
        root = root or str(base / "root")
        self._global = (
            []
            if self.docker
            else [
                f"--root={root}",
                f"--runroot={self._runroot}",
                f"--storage-driver={storage_driver}",
            ]
        )
        self._prepared = False

    def prepare(self) -> None:
        """Check the engine and write the plugin's containers.conf (once)."""
        if shutil.which(self.program) is None:
            raise DeployError(f"{self.program} is not installed on this machine")
        if self._prepared:
            return
        self.private.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.private.chmod(0o700)
        if not self.docker:
            # A JSON string is a valid TOML basic string.
            tmp_dir = json.dumps(str(Path(self._runroot) / "libpod"))
            partial = self._conf.with_suffix(".tmp")
            partial.write_text(
                _CONTAINERS_CONF.format(ulimits=json.dumps(ULIMITS), tmp_dir=tmp_dir)
            )
            partial.replace(self._conf)
        self._prepared = True

    def _environment(self, env: Mapping[str, str] | None) -> dict[str, str]:
        base = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        if not self.docker:
            # Neither the machine's nor root's container config takes part.
            base |= {"CONTAINERS_CONF": str(self._conf), "HOME": str(self._base)}
        elif "HOME" in os.environ:
            base["HOME"] = os.environ["HOME"]  # the docker CLI finds its context there
        return {**(env or {}), **base}

    def _workdir(self) -> Path | None:
        # conmon, which podman leaves watching each container, writes files into
        # the directory podman started in (an `oom` marker on an OOM kill): the
        # plugin's own, not wherever the server was started.
        return self.private if self.private.is_dir() else None

    async def exec(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        global_args: Sequence[str] = (),
        merge: bool = False,
        slow: bool = False,
    ) -> tuple[int, str, str]:
        """Run one engine command; (exit code, stdout, stderr)."""
        argv = [self.program, *self._global, *global_args, *args]
        # Output goes to files, not pipes: `run --detach` leaves conmon and
        # slirp4netns behind, which may hold a pipe open long after podman exits.
        with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out_file,
                    stderr=out_file if merge else err_file,
                    env=self._environment(env),
                    cwd=self._workdir(),
                )
            except OSError as error:
                raise DeployUnavailable(f"{self.program} could not run: {error.strerror}") from None
            limit = 600 if slow else 60
            try:
                async with asyncio.timeout(limit):
                    code = await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise DeployUnavailable(f"{self.program} {args[0]} took over {limit} s") from None
            out, err = await asyncio.to_thread(_read_both, out_file, err_file)
        return code, out, err

    async def spawn(self, args: Sequence[str], *, limit: int) -> asyncio.subprocess.Process:
        """Start an engine command whose output (stdout and stderr) is read from a pipe.

        Only for commands that start no helper that could outlive them and
        hold the pipe (`logs` does not; `run` does, see `exec`). `limit` is
        the longest line the pipe's reader buffers whole.
        """
        try:
            return await asyncio.create_subprocess_exec(
                self.program,
                *self._global,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self._environment(None),
                cwd=self._workdir(),
                limit=limit,
            )
        except OSError as error:
            raise DeployUnavailable(f"{self.program} could not run: {error.strerror}") from None

    async def inspect(self, names: Sequence[str]) -> list[Container]:
        if not names:
            return []
        code, out, err = await self.exec(["inspect", "--type", "container", *names])
        if code != 0 and not NO_SUCH.search(err):
            raise DeployUnavailable(f"inspecting containers failed: {last_error(err)}")
        try:
            found = json.loads(out or "[]")
        except ValueError:
            raise DeployUnavailable("the engine answered inspect with something else") from None
        return [c for c in map(_parse, found or []) if c is not None]

    async def inspect_one(self, name: str) -> Container | None:
        found = [c for c in await self.inspect([name]) if c.name == name]
        return found[0] if found else None

    async def containers(self, project: str | None, app: str | None = None) -> list[Container]:
        """The containers of home-idp, of one project, or of one app."""
        label = f"label={PROJECT}" if project is None else f"label={PROJECT}={project}"
        code, out, err = await self.exec(
            ["ps", "--all", "--quiet", "--no-trunc", f"--filter={label}"]
        )
        if code != 0:
            raise DeployUnavailable(f"listing containers failed: {last_error(err)}")
        containers = await self.inspect(out.split())
        return [c for c in containers if app is None or c.app == app]

    async def remove(self, names: Sequence[str], grace: int) -> None:
        """Stop (KILL after the grace: a busybox PID 1 ignores SIGTERM) and remove."""
        if not names:
            return
        if self.docker:
            await self.exec(["stop", "--time", str(grace), *names])
            command = ["rm", "--force", *names]
        else:
            command = ["rm", "--force", "--ignore", "--time", str(grace), *names]
        code, _, err = await self.exec(command)
        if code != 0 and not NO_SUCH.search(err):
            raise DeployUnavailable(f"removing containers failed: {last_error(err)}")


def _parse(data: Any) -> Container | None:
    try:
        labels = data["Config"].get("Labels") or {}
        if PROJECT not in labels or APP not in labels:
            return None
        state = data["State"]
        return Container(
            name=str(data["Name"]).lstrip("/"),  # docker puts a "/" first
            project=labels[PROJECT],
            app=labels[APP],
            release=_int(labels.get(RELEASE)),
            port=_int(labels.get(PORT)),
            health_path=labels.get(HEALTH, "/"),
            image=str(data.get("ImageName") or data["Config"].get("Image") or ""),
            status=str(state.get("Status", "unknown")).lower(),
            exit_code=int(state.get("ExitCode") or 0),
            restarts=int(data.get("RestartCount") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            created_at=_iso(data.get("Created")),
            bind_mounts=tuple(
                sorted(
                    str(m["Destination"])
                    for m in data.get("Mounts") or []
                    if m.get("Type") == "bind" and m.get("Destination")
                )
            ),
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _iso(value: object) -> str | None:
    """The engine's RFC 3339 time (nanoseconds, any offset) as ISO text in UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        # Python reads at most microseconds: the nanoseconds' last digits go.
        moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def default_runroot(base: Path) -> str:
    """`<base>/run`, or a short path in /run when that is too long for podman."""
    preferred = str(base / "run")
    if len(preferred) <= MAX_RUNROOT:
        return preferred
    # Podman refuses a longer runroot (its sockets' paths must fit); its state
    # there is gone at a reboot anyway, as everything under /run is.
    digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
    parent = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    return f"{parent}/home-idp-{digest}"


def last_error(stderr: str) -> str:
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
