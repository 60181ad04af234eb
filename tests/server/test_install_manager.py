"""The install-manager: order, idempotence, failure, generated Secrets and configuration,
with the real helm binary (client dry run) and the Kubernetes API stand-in."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from home_idp.plugins.installer.contract import ComponentSpec, ComponentStatus, InstallerConfig
from home_idp.plugins.installer.helm import HelmInstaller
from home_idp.server.errors import Conflict, NotFound
from home_idp.server.install.catalog import CatalogEntry, GeneratedSecret, install_order
from home_idp.server.install.cluster_secrets import ARGOCD_REPOSITORY_LABEL, ClusterSecrets
from home_idp.server.install.manager import InstallEvent, InstallManager
from tests.doubles.kubernetes import KubernetesStandIn, kubernetes_stand_in
from tests.plugins.helm_binary import DEMO_CHART, helm_binary, helm_environment

TOKEN = "kube-token"


def entry(
    name: str,
    *,
    depends_on: tuple[str, ...] = (),
    secrets: tuple[GeneratedSecret, ...] = (),
    **values: Any,
) -> CatalogEntry:
    spec = ComponentSpec(
        name=name,
        chart=str(DEMO_CHART),
        version="0.3.0",
        namespace=f"ns-{name}",
        values={"greeting": name, **values},
        depends_on=depends_on,
    )
    return CatalogEntry(spec, secrets)


class Recorder:
    def __init__(self) -> None:
        self.events: list[InstallEvent] = []

    async def __call__(self, event: InstallEvent) -> None:
        self.events.append(event)

    def of(self, name: str) -> list[tuple[str, str]]:
        return [(e.status.value, e.message) for e in self.events if e.component == name]


@pytest.fixture
def helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HelmInstaller:
    helm_environment(monkeypatch, tmp_path)
    return HelmInstaller(
        InstallerConfig(tmp_path / "data", {"helm": helm_binary(), "dry_run": "client"})
    )


def test_dependencies_come_first_and_cycles_are_refused() -> None:
    ordered = install_order(
        [entry("app", depends_on=("db", "cache")), entry("cache", depends_on=("db",)), entry("db")]
    )
    assert [e.spec.name for e in ordered] == ["db", "cache", "app"]
    with pytest.raises(ValueError, match="circle"):
        install_order([entry("a", depends_on=("b",)), entry("b", depends_on=("a",))])
    with pytest.raises(ValueError, match="unknown component"):
        install_order([entry("a", depends_on=("ghost",))])


async def test_install_all_in_order_then_nothing_to_do(helm: HelmInstaller) -> None:
    record = Recorder()
    entries = install_order([entry("app", depends_on=("db",)), entry("db")])
    manager = InstallManager(entries, helm, record)
    results = await manager.install_all()
    assert [(name, state.status) for name, state in results] == [
        ("db", ComponentStatus.READY),
        ("app", ComponentStatus.READY),
    ]
    assert [e.component for e in record.events if e.status is ComponentStatus.INSTALLING] == [
        "db",
        "app",
    ]
    # Unchanged versions and values: nothing runs again.
    record.events.clear()
    await manager.install_all()
    assert record.of("db") == [("ready", "up to date; nothing to do")]
    assert record.of("app") == [("ready", "up to date; nothing to do")]


async def test_changed_values_install_again(helm: HelmInstaller) -> None:
    record = Recorder()
    await InstallManager([entry("db")], helm, record).install("db")
    record.events.clear()
    changed = InstallManager([entry("db", greeting="new")], helm, record)
    state = await changed.install("db")
    assert state.status is ComponentStatus.READY
    assert record.of("db")[0][0] == "installing"


async def test_a_failure_stops_the_rest_with_a_reason(helm: HelmInstaller) -> None:
    record = Recorder()
    entries = install_order(
        [entry("db"), entry("cache", failWith="no memory"), entry("app", depends_on=("cache",))]
    )
    results = dict(await InstallManager(entries, helm, record).install_all())
    assert results["db"].status is ComponentStatus.READY
    assert results["cache"].status is ComponentStatus.FAILED
    assert "refusing to render" in results["cache"].message
    assert results["app"].status is ComponentStatus.ABSENT
    assert results["app"].message == "skipped: cache failed before it"


async def test_one_component_needs_its_dependencies_ready(helm: HelmInstaller) -> None:
    manager = InstallManager(
        install_order([entry("db"), entry("app", depends_on=("db",))]), helm, Recorder()
    )
    state = await manager.install("app")
    assert state.status is ComponentStatus.FAILED
    assert state.message == "needs db, which is absent"
    await manager.install("db")
    assert (await manager.install("app")).status is ComponentStatus.READY
    # db is needed by app, which is installed: not removable.
    with pytest.raises(Conflict, match="app depends on db"):
        await manager.uninstall("db")
    assert (await manager.uninstall("app")).status is ComponentStatus.ABSENT
    assert (await manager.uninstall("db")).status is ComponentStatus.ABSENT
    with pytest.raises(NotFound, match="no component 'nope'"):
        await manager.install("nope")


async def test_one_operation_at_a_time(helm: HelmInstaller) -> None:
    manager = InstallManager([entry("db")], helm, Recorder())
    async with manager._busy:
        with pytest.raises(Conflict, match="another install is running"):
            await manager.install("db")


@pytest.fixture
async def kube() -> Any:
    async with kubernetes_stand_in(token=TOKEN) as stand_in:
        yield stand_in


def cluster_secrets(kube: KubernetesStandIn) -> ClusterSecrets:
    return ClusterSecrets({"api_url": kube.base_url, "token": TOKEN})


def secret_data(kube: KubernetesStandIn, namespace: str, name: str) -> dict[str, str]:
    stored = kube.get("secrets", namespace, name)
    assert stored is not None
    return {key: base64.b64decode(value).decode() for key, value in stored["data"].items()}


async def test_generated_secrets_are_made_once_and_never_reported(
    helm: HelmInstaller, kube: KubernetesStandIn
) -> None:
    record = Recorder()
    generated = GeneratedSecret("db-credentials", ("password",))
    db = entry("db", secrets=(generated,), existingSecret="db-credentials")
    manager = InstallManager([db], helm, record, secrets=cluster_secrets(kube))
    assert (await manager.install("db")).status is ComponentStatus.READY
    first = secret_data(kube, "ns-db", "db-credentials")
    assert len(first["password"]) >= 24
    assert kube.get("namespaces", "", "ns-db") is not None
    assert ("installing", "generated the Secret db-credentials in ns-db") in record.of("db")
    assert all(first["password"] not in event.message for event in record.events)

    # An upgrade keeps the password; a key the Secret lacks is added.
    more = GeneratedSecret("db-credentials", ("password", "replication-password"))
    upgraded = entry("db", secrets=(more,), existingSecret="db-credentials", greeting="v2")
    await InstallManager([upgraded], helm, record, secrets=cluster_secrets(kube)).install("db")
    second = secret_data(kube, "ns-db", "db-credentials")
    assert second["password"] == first["password"]
    assert len(second["replication-password"]) >= 24


async def test_argo_cd_gets_a_credential_for_the_platform_repo(kube: KubernetesStandIn) -> None:
    secrets = cluster_secrets(kube)
    url = "https://git.example.test/platform.git"
    await secrets.apply_repository("argocd", "home-idp-platform-repo", url, "x-access-token", "t0k")
    await secrets.apply_repository("argocd", "home-idp-platform-repo", url, "x-access-token", "t1k")
    stored = kube.get("secrets", "argocd", "home-idp-platform-repo")
    assert stored is not None
    assert stored["metadata"]["labels"][ARGOCD_REPOSITORY_LABEL] == "repository"
    assert secret_data(kube, "argocd", "home-idp-platform-repo") == {
        "type": "git",
        "url": url,
        "username": "x-access-token",
        "password": "t1k",
    }


async def test_a_refusing_api_is_a_clear_failure(
    helm: HelmInstaller, kube: KubernetesStandIn
) -> None:
    bad = ClusterSecrets({"api_url": kube.base_url, "token": "wrong"})
    db = entry("db", secrets=(GeneratedSecret("db-credentials", ("password",)),))
    state = await InstallManager([db], helm, Recorder(), secrets=bad).install("db")
    assert state.status is ComponentStatus.FAILED
    assert "Kubernetes API refused" in state.message
    assert "wrong" not in state.message
