"""The local installer runs the real registry, and starts it again when it dies."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentStatus,
    InstallerConfig,
    InstallError,
)
from home_idp.plugins.installer.local import LocalInstaller
from tests.liveserver import free_port


def registry_spec(port: int) -> ComponentSpec:
    return ComponentSpec(
        name="registry",
        chart="docker-registry",
        version="2",
        namespace="local",
        values={
            "port": port,
            "webhook_url": "http://127.0.0.1:9/webhooks/registry",
            "webhook_secret": "a-registry-webhook-secret",
        },
    )


async def answers(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            return (await client.get(f"http://127.0.0.1:{port}/v2/")).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
async def installer(tmp_path: Path) -> AsyncIterator[LocalInstaller]:
    local = LocalInstaller(InstallerConfig(tmp_path, {"check_seconds": "0.1"}))
    yield local
    await local.aclose()


async def test_the_registry_is_started_supervised_and_stopped(
    installer: LocalInstaller, tmp_path: Path
) -> None:
    spec = registry_spec(free_port())
    port = int(str(spec.values["port"]))
    assert (await installer.check()).startswith(("docker-registry", "registry"))
    assert (await installer.status(spec)).status is ComponentStatus.ABSENT

    state = await installer.install(spec)
    assert state.status is ComponentStatus.READY, state.message
    assert await answers(port)
    config = tmp_path / "registry" / "config.yml"
    assert oct(config.stat().st_mode & 0o777) == "0o600"  # it holds the webhook secret
    assert "127.0.0.1:" in config.read_text()

    # Killed: the supervisor starts it again.
    process = installer._registries["registry"]._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    async with asyncio.timeout(20):
        while installer.restarts == 0 or not await answers(port):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert (await installer.status(spec)).status is ComponentStatus.READY

    assert (await installer.uninstall(spec)).status is ComponentStatus.ABSENT
    assert not await answers(port)
    assert (await installer.status(spec)).status is ComponentStatus.ABSENT


async def test_a_registry_that_already_answers_is_used_not_replaced(
    installer: LocalInstaller, tmp_path: Path
) -> None:
    spec = registry_spec(free_port())
    other = LocalInstaller(InstallerConfig(tmp_path / "other"))
    try:
        assert (await other.install(spec)).status is ComponentStatus.READY
        state = await installer.install(spec)
        assert state.status is ComponentStatus.READY
        assert "not started by home-idp" in state.message
        assert state.external  # the install-manager leaves it alone
        assert "registry" not in installer._registries
    finally:
        await other.aclose()


async def test_bad_values_are_refused(installer: LocalInstaller) -> None:
    bad = ComponentSpec("registry", "docker-registry", "2", "local", {"port": "five"})
    with pytest.raises(InstallError, match="port"):
        await installer.install(bad)
