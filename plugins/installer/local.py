"""The local registry: a CNCF `registry` (Debian's `docker-registry`) home-idp runs itself.

Local mode needs a registry on this machine. This runs one with a config of
its own: a loopback address, storage in the data dir, and notifications to
home-idp's gateway carrying the registry webhook secret. The install-manager
supervises it; the demo starts it when nothing answers at the registry URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from pathlib import Path

import httpx

__all__ = ["LocalRegistry", "RegistryNotInstalled"]

log = logging.getLogger(__name__)

_BINARIES = ("docker-registry", "registry")
_READY_SECONDS = 15.0


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
        try:
            async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
                return (await client.get(f"{self.url}/v2/")).status_code in (200, 401)
        except httpx.TransportError:
            return False

    async def start(self) -> None:
        binary = next((found for name in _BINARIES if (found := shutil.which(name))), None)
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
                binary, "serve", str(config), stdout=output, stderr=output
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_SECONDS
        while not await self.answers():
            if self._process.returncode is not None or loop.time() > deadline:
                await self.stop()
                raise RuntimeError(f"the registry did not start; see {self.directory}/registry.log")
            await asyncio.sleep(0.05)
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
