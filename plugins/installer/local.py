"""The local registry: a CNCF `registry` (Debian's `docker-registry`) home-idp runs itself.

Local mode needs a registry on this machine. This runs one with a config of
its own: a loopback address, storage in the data dir, and notifications to
home-idp's gateway carrying the registry webhook secret. The install-manager
supervises it; `home-idp serve` (and so the demo) has it started in the local
profile when nothing answers at the registry URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx

from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentState,
    ComponentStatus,
    InstallerConfig,
    InstallError,
    values_digest,
)
from home_idp.plugins.support.options import Between, PluginOptions

__all__ = ["LocalInstaller", "LocalRegistry", "RegistryNotInstalled", "registry_answers"]

log = logging.getLogger(__name__)

_BINARIES = ("docker-registry", "registry")
_READY_SECONDS = 15.0


async def registry_answers(url: str) -> bool:
    """Whether a registry (any: ours or another) answers at `url`."""
    try:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            return (await client.get(f"{url.rstrip('/')}/v2/")).status_code in (200, 401)
    except httpx.TransportError:
        return False


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook that ends the registry when the process that started it dies.

    Without it, a home-idp that is killed leaves its registry holding the port,
    still sending notifications to a server that is gone. Linux only.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


class RegistryNotInstalled(RuntimeError):
    """Neither `docker-registry` nor `registry` is on PATH."""


class LocalRegistry:
    """One registry process on 127.0.0.1:`port`, its data in `directory`."""

    def __init__(self, directory: Path, port: int, webhook_url: str, webhook_secret: str) -> None:
        self.directory = directory
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._process: asyncio.subprocess.Process | None = None

    def config(self) -> str:
        """The registry's YAML config (JSON is YAML): loopback only, notifying home-idp."""
        config = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.directory / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{self.port}"},
            "notifications": {
                "endpoints": [
                    {
                        "name": "home-idp",
                        "url": self._webhook_url,
                        "headers": {"Authorization": [f"Bearer {self._webhook_secret}"]},
                        "timeout": "2s",
                        "threshold": 3,
                        "backoff": "1s",
                        # Blob uploads are no image pushes; manifests are.
                        "ignoredmediatypes": ["application/octet-stream"],
                    }
                ]
            },
        }
        return json.dumps(config, indent=2)

    async def answers(self) -> bool:
        """Whether a registry answers at the URL (this one or another)."""
        return await registry_answers(self.url)

    async def start(self) -> None:
        binary = _registry_binary()
        if binary is None:
            raise RegistryNotInstalled(
                "no registry binary: apt-get install docker-registry (or put `registry` on PATH)"
            )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = self.directory / "config.yml"
        # The config holds the webhook secret.
        config.touch(mode=0o600)
        config.write_text(self.config())
        with (self.directory / "registry.log").open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                binary,
                "serve",
                str(config),
                stdout=output,
                stderr=output,
                preexec_fn=_die_with_parent(),
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_SECONDS
        while not await self.answers():
            if self._process.returncode is not None or loop.time() > deadline:
                await self.stop()
                raise RuntimeError(f"the registry did not start; see {self.directory}/registry.log")
            await asyncio.sleep(0.05)
        if self._process.returncode is not None:
            # Another registry answered on the port; ours could not take it.
            await self.stop()
            raise RuntimeError(f"another program holds 127.0.0.1:{self.port}")
        log.info("local registry ready on %s", self.url)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class LocalOptions(PluginOptions):
    """The local installer's one option: how often (seconds) it looks at the registry."""

    check_seconds: Annotated[float, Between(0, 3600, above_low=True)] = 2.0


class LocalInstaller:
    """The `local` installer: runs the local registry and restarts it when it dies.

    The component's values are `port`, `webhook_url` and `webhook_secret`;
    its data lives in `<data dir>/registry`. Option `check_seconds` (default
    2) is how often the supervisor looks at the process.
    """

    def __init__(self, config: InstallerConfig) -> None:
        self._data_dir = config.data_dir
        options = LocalOptions.read(config.options, "the local installer", InstallError)
        self._check_seconds = options.check_seconds
        self._registries: dict[str, LocalRegistry] = {}
        self._supervisors: dict[str, asyncio.Task[None]] = {}
        self._digests: dict[str, str] = {}
        self._versions: dict[str, str] = {}
        self.restarts = 0

    async def check(self) -> str:
        binary = _registry_binary()
        if binary is None:
            raise InstallError(
                "no registry binary: apt-get install docker-registry (or put `registry` on PATH)"
            )
        process = await asyncio.create_subprocess_exec(
            binary,
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise InstallError(f"`{binary} --version` did not answer") from None
        words = out.decode(errors="replace").split()
        return f"{Path(binary).name} {words[-1] if words else 'unknown'}"

    def _registry(self, spec: ComponentSpec) -> LocalRegistry:
        values = spec.values
        try:
            port = int(str(values["port"]))
            webhook_url, secret = str(values["webhook_url"]), str(values["webhook_secret"])
        except (KeyError, ValueError):
            raise InstallError(
                "the registry needs `port`, `webhook_url` and `webhook_secret`"
            ) from None
        return LocalRegistry(self._data_dir / spec.name, port, webhook_url, secret)

    def plan(self, spec: ComponentSpec) -> list[list[str]]:
        registry = self._registry(spec)
        return [[_registry_binary() or spec.chart, "serve", str(registry.directory / "config.yml")]]

    async def install(self, spec: ComponentSpec) -> ComponentState:
        await self._stop(spec.name)
        registry = self._registry(spec)
        if await registry.answers():
            # A registry run by the system (or a demo) already serves: use it.
            return _external(registry)
        try:
            await registry.start()
        except (RegistryNotInstalled, RuntimeError) as error:
            return ComponentState(ComponentStatus.FAILED, str(error))
        self._registries[spec.name] = registry
        self._digests[spec.name] = values_digest(spec.values)
        self._versions[spec.name] = spec.version
        self._supervisors[spec.name] = asyncio.create_task(
            self._supervise(registry), name=f"supervise-{spec.name}"
        )
        return self._state(spec.name)

    async def _supervise(self, registry: LocalRegistry) -> None:
        """Start the registry again whenever its process has ended.

        A registry that keeps dying (or cannot start) is retried less and less
        often, up to once a minute.
        """
        delay = self._check_seconds
        while True:
            await asyncio.sleep(delay)
            if registry.running:
                delay = self._check_seconds
                continue
            log.warning("the local registry stopped; starting it again")
            try:
                await registry.start()
                self.restarts += 1
            except Exception as error:  # keep supervising whatever went wrong
                log.error("could not restart the local registry: %s", error)
            delay = min(delay * 2, 60.0)

    def _state(self, name: str) -> ComponentState:
        registry = self._registries.get(name)
        if registry is None:
            return ComponentState(ComponentStatus.ABSENT, "not running")
        if not registry.running:
            return ComponentState(ComponentStatus.INSTALLING, "stopped; being restarted")
        return ComponentState(
            ComponentStatus.READY,
            f"running on {registry.url}",
            version=self._versions.get(name),
            values_digest=self._digests.get(name),
        )

    async def status(self, spec: ComponentSpec) -> ComponentState:
        state = self._state(spec.name)
        if (
            state.status is ComponentStatus.READY
            and not await self._registries[spec.name].answers()
        ):
            return ComponentState(ComponentStatus.FAILED, "running but not answering")
        if state.status is ComponentStatus.ABSENT:
            registry = self._registry(spec)
            if await registry.answers():
                return _external(registry)
        return state

    async def uninstall(self, spec: ComponentSpec) -> ComponentState:
        await self._stop(spec.name)
        return ComponentState(ComponentStatus.ABSENT, "stopped")

    async def _stop(self, name: str) -> None:
        supervisor = self._supervisors.pop(name, None)
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        registry = self._registries.pop(name, None)
        self._digests.pop(name, None)
        self._versions.pop(name, None)
        if registry is not None:
            await registry.stop()

    async def aclose(self) -> None:
        for name in list(self._registries):
            await self._stop(name)


def _external(registry: LocalRegistry) -> ComponentState:
    """A registry someone else started (a system service): usable, not ours to manage."""
    return ComponentState(
        ComponentStatus.READY,
        f"a registry not started by home-idp answers at {registry.url}",
        external=True,
    )


def _registry_binary() -> str | None:
    return next((found for name in _BINARIES if (found := shutil.which(name))), None)
