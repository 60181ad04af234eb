"""The helm installer with the real helm binary, against a small local chart.

There is no cluster here, so releases are rendered with `helm install
--dry-run=client` (the plugin's `dry_run: client` mode); the commands for a
cluster are checked as the plugin builds them.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentStatus,
    InstallerConfig,
    InstallError,
    values_digest,
)
from home_idp.plugins.installer.helm import HelmInstaller, release_state
from tests.plugins.helm_binary import DEMO_CHART, helm_binary, helm_environment


@pytest.fixture
def installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HelmInstaller:
    helm_environment(monkeypatch, tmp_path)
    return HelmInstaller(
        InstallerConfig(tmp_path / "data", {"helm": helm_binary(), "dry_run": "client"})
    )


def demo(name: str = "demo", **values: object) -> ComponentSpec:
    return ComponentSpec(
        name=name, chart=str(DEMO_CHART), version="0.3.0", namespace="tools", values=values
    )


async def test_the_version_is_checked_and_reported(installer: HelmInstaller) -> None:
    assert (await installer.check()).startswith("helm v4.")


async def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    missing = HelmInstaller(InstallerConfig(tmp_path, {"helm": str(tmp_path / "no-helm")}))
    with pytest.raises(InstallError, match="no helm binary"):
        await missing.check()


async def test_a_helm_older_than_3_13_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "helm"
    old.write_text("#!/bin/sh\necho v3.12.3\n")
    old.chmod(0o755)
    with pytest.raises(InstallError, match="too old"):
        await HelmInstaller(InstallerConfig(tmp_path, {"helm": str(old)})).check()


@pytest.mark.parametrize(
    ("options", "message"),
    [({"timeout": "soon"}, "timeout"), ({"dry_run": "server"}, "dry_run")],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(InstallError, match=message):
        HelmInstaller(InstallerConfig(tmp_path, options))


async def test_install_renders_the_release_and_status_reports_it(installer: HelmInstaller) -> None:
    spec = demo(greeting="hi there")
    assert (await installer.status(spec)).status is ComponentStatus.ABSENT
    state = await installer.install(spec)
    assert state.status is ComponentStatus.READY, state.message
    assert (state.version, state.revision) == ("0.3.0", 1)
    # helm's record of the values it used is the values given: unchanged ⇒ nothing to do.
    assert state.values_digest == values_digest(spec.values)
    assert state.values_digest != values_digest({"greeting": "other"})
    again = await installer.status(spec)
    assert (again.status, again.values_digest) == (ComponentStatus.READY, state.values_digest)
    # The values file was only readable by this user, and is gone.
    assert not list((installer._work).glob("tmp*"))
    assert (await installer.uninstall(spec)).status is ComponentStatus.ABSENT
    assert (await installer.status(spec)).status is ComponentStatus.ABSENT


async def test_a_chart_that_fails_to_render_fails_with_helms_reason_and_no_secret(
    installer: HelmInstaller,
) -> None:
    state = await installer.install(demo(failWith="database password hunter2-secret"))
    assert state.status is ComponentStatus.FAILED
    assert "refusing to render" in state.message
    assert "hunter2-secret" not in state.message


async def test_an_unknown_chart_fails(installer: HelmInstaller, tmp_path: Path) -> None:
    spec = ComponentSpec("ghost", str(tmp_path / "no-chart"), "1.0.0", "tools")
    state = await installer.install(spec)
    assert state.status is ComponentStatus.FAILED
    assert state.message


def test_the_cluster_command_waits_times_out_and_rolls_back(tmp_path: Path) -> None:
    cluster = HelmInstaller(
        InstallerConfig(
            tmp_path, {"helm": "helm", "kubeconfig": "/etc/kube/admin.conf", "timeout": "5m"}
        )
    )
    spec = ComponentSpec(
        "argocd", "argo-cd", "8.3.0", "argocd", {"a": 1}, repo_url="https://example.test/charts"
    )
    [command] = cluster.plan(spec)
    assert command[:4] == ["helm", "upgrade", "--install", "argocd"]
    for flags in (
        ["--namespace", "argocd"],
        ["--version", "8.3.0"],
        ["--repo", "https://example.test/charts"],
        ["--values", "argocd-values.yaml"],
        ["--timeout", "5m"],
        ["--kubeconfig", "/etc/kube/admin.conf"],
    ):
        index = command.index(flags[0])
        assert command[index : index + 2] == flags
    assert {"--wait", "--create-namespace", "--rollback-on-failure"} <= set(command)
    # Helm 3 calls the rollback --atomic.
    cluster._major = 3
    assert "--atomic" in cluster.plan(spec)[0]
    # Values reach helm in a file only, never as --set on the command line.
    assert not any(part.startswith("--set") for part in command)


async def test_the_values_file_is_private(
    installer: HelmInstaller, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[int] = []
    original = installer._run

    async def spy(argv: list[str], limit_seconds: float | None = None) -> tuple[int, str, str]:
        if "--values" in argv:
            modes.append(_mode_and_check(Path(argv[argv.index("--values") + 1])))
        return await original(argv, limit_seconds)

    monkeypatch.setattr(installer, "_run", spy)
    assert (await installer.install(demo(greeting="hi"))).status is ComponentStatus.READY
    assert modes == [0o600]


def _mode_and_check(values: Path) -> int:
    assert json.loads(values.read_text()) == {"greeting": "hi"}
    return stat.S_IMODE(values.stat().st_mode)


def test_release_states_map_helms_statuses() -> None:
    record = {
        "info": {"status": "deployed"},
        "chart": {"metadata": {"version": "1.2.3"}},
        "version": 4,
    }
    state = release_state(record)
    assert (state.status, state.version, state.revision) == (ComponentStatus.READY, "1.2.3", 4)
    for status, expected in [
        ("failed", ComponentStatus.FAILED),
        ("pending-upgrade", ComponentStatus.INSTALLING),
        ("uninstalled", ComponentStatus.ABSENT),
        ("something new", ComponentStatus.FAILED),
    ]:
        record["info"] = {"status": status, "description": "why"}
        assert release_state(record).status is expected
        assert release_state(record).message == f"{status}: why"
