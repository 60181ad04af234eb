"""The InstallerPlugin contract, one suite that every in-tree installer passes.

What the install-manager relies on: a version from `check`, ABSENT before an
install, READY after it with the digest of the values it runs with, installs
that can be repeated, a plan that never shows a value, and an uninstall that
leaves the component ABSENT. `helm` runs the real helm binary on a small
local chart (client-side dry runs: no cluster here); `local` runs the real
registry (a `system` test); `fake` is the in-memory fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from home_idp.plugins.discovery import installed_plugins, load_plugin
from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentStatus,
    InstallerConfig,
    InstallerPlugin,
    values_digest,
)
from tests.fakes import FakeInstaller
from tests.liveserver import free_port
from tests.plugins.helm_binary import DEMO_CHART, helm_binary, helm_environment

PLUGINS = ["helm", "local"]
SUBJECTS = ["helm", pytest.param("local", marks=pytest.mark.system), "fake"]
SECRET_VALUE = "an-installer-contract-secret-0123"


@dataclass
class Subject:
    """An installer and a component it can install (`spec(secret)` carries a secret value)."""

    plugin: InstallerPlugin
    spec: Callable[[str], ComponentSpec]


@pytest.fixture(params=SUBJECTS)
async def subject(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Subject]:
    name: str = request.param
    if name == "fake":
        plugin: InstallerPlugin = FakeInstaller(InstallerConfig(tmp_path))
        subject = Subject(
            plugin,
            lambda secret: ComponentSpec("demo", "demo", "1.0.0", "tools", {"password": secret}),
        )
    elif name == "helm":
        helm_environment(monkeypatch, tmp_path)
        options = {"helm": helm_binary(), "dry_run": "client"}
        plugin = load_plugin("installer", "helm")(InstallerConfig(tmp_path / "data", options))
        subject = Subject(
            plugin,
            lambda secret: ComponentSpec(
                "demo", str(DEMO_CHART), "0.3.0", "tools", {"greeting": secret}
            ),
        )
    else:
        plugin = load_plugin("installer", "local")(
            InstallerConfig(tmp_path, {"check_seconds": "0.1"})
        )
        port = free_port()
        subject = Subject(
            plugin,
            lambda secret: ComponentSpec(
                "registry",
                "docker-registry",
                "2",
                "local",
                {
                    "port": port,
                    "webhook_url": "http://127.0.0.1:9/webhooks/registry",
                    "webhook_secret": secret,
                },
            ),
        )
    yield subject
    await subject.plugin.aclose()


def test_the_suite_covers_every_installed_installer_plugin() -> None:
    assert installed_plugins("installer") == sorted(PLUGINS)


async def test_it_is_an_installer_that_reports_its_version(subject: Subject) -> None:
    assert isinstance(subject.plugin, InstallerPlugin)
    assert await subject.plugin.check()


def test_the_plan_never_shows_a_value(subject: Subject) -> None:
    plan = subject.plugin.plan(subject.spec(SECRET_VALUE))
    assert plan and all(isinstance(arg, str) for command in plan for arg in command)
    assert SECRET_VALUE not in repr(plan)


async def test_install_status_and_uninstall(subject: Subject) -> None:
    plugin, spec = subject.plugin, subject.spec(SECRET_VALUE)
    assert (await plugin.status(spec)).status is ComponentStatus.ABSENT

    installed = await plugin.install(spec)
    again = await plugin.install(spec)  # idempotent: install-all runs it on every start

    for state in (installed, again, await plugin.status(spec)):
        assert state.status is ComponentStatus.READY, state.message
        assert state.values_digest in (None, values_digest(spec.values))
        assert SECRET_VALUE not in state.message
    assert (await plugin.uninstall(spec)).status is ComponentStatus.ABSENT
    assert (await plugin.status(spec)).status is ComponentStatus.ABSENT
    assert (await plugin.uninstall(spec)).status is ComponentStatus.ABSENT
