"""`home-idp install`: the dry run, a whole install with the real helm binary (client
dry run) and the Kubernetes API stand-in, idempotence, and bad input."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import SecretStr, ValidationError
from rich.console import Console

from home_idp.server.install.catalog import catalog
from home_idp.server.install.cli import run_install
from home_idp.server.settings import (
    ComponentOverride,
    InstallSettings,
    RegistrySettings,
    Settings,
)
from tests.doubles.kubernetes import KubernetesStandIn, kubernetes_stand_in
from tests.plugins.helm_binary import DEMO_CHART, helm_binary, helm_environment

TOKEN = "kube-token"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def cluster_settings(tmp_path: Path, **options: str) -> Settings:
    local_charts = {
        name: ComponentOverride(chart=str(DEMO_CHART), version="0.3.0")
        for name in ("postgres", "harbor", "argocd")
    }
    return Settings(
        profile="cluster",
        data_dir=tmp_path / "data",
        install=InstallSettings(
            options={
                "helm": SecretStr(helm_binary()),
                **{k: SecretStr(v) for k, v in options.items()},
            },
            components=local_charts,
        ),
    )


@pytest.fixture
async def kube() -> AsyncIterator[KubernetesStandIn]:
    async with kubernetes_stand_in(token=TOKEN) as stand_in:
        yield stand_in


async def test_the_dry_run_shows_commands_and_values_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helm_environment(monkeypatch, tmp_path)
    settings = Settings(
        profile="cluster",
        data_dir=tmp_path / "data",
        install=InstallSettings(options={"helm": SecretStr(helm_binary())}),
    )
    terminal, out = console()
    assert await run_install(settings, terminal, dry_run=True) == 0
    text = out.getvalue()
    assert text.index("postgres:") < text.index("harbor:") < text.index("argocd:")
    assert "$ " in text and "upgrade --install postgres --namespace home-idp" in text
    assert "--rollback-on-failure" in text and "--wait" in text
    assert "existingSecret: home-idp-postgres" in text
    assert "Secret home-idp-postgres in home-idp: generated once" in text
    assert text.rstrip().endswith("dry run: nothing was changed")
    assert not (tmp_path / "data" / "helm").exists()


async def test_the_local_dry_run_masks_the_webhook_secret(tmp_path: Path) -> None:
    secret = "a-registry-webhook-secret-value"
    settings = Settings(data_dir=tmp_path, registry={"webhook_secret": SecretStr(secret)})
    terminal, out = console()
    assert await run_install(settings, terminal, dry_run=True) == 0
    assert "webhook_secret: '****'" in out.getvalue()
    assert secret not in out.getvalue()


async def test_a_whole_install_then_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kube: KubernetesStandIn
) -> None:
    helm_environment(monkeypatch, tmp_path)
    settings = cluster_settings(tmp_path, dry_run="client", api_url=kube.base_url, token=TOKEN)
    terminal, out = console()
    assert await run_install(settings, terminal, dry_run=False) == 0, out.getvalue()
    text = out.getvalue()
    assert "installer: helm v4" in text
    for name in ("postgres", "harbor", "argocd"):
        assert f"ready  {name}" in text
    # Each chart's Secret was generated in its namespace, and no value was printed.
    for namespace, name in (("home-idp", "home-idp-postgres"), ("harbor", "home-idp-harbor")):
        stored = kube.get("secrets", namespace, name)
        assert stored is not None
        for value in stored["data"].values():
            assert value not in text
    assert kube.get("secrets", "argocd", "argocd-secret") is not None
    # What home-idp needs of them: its database URL, Argo CD's access to the platform repo.
    postgres = kube.get("secrets", "home-idp", "home-idp-postgres")
    database = kube.get("secrets", "home-idp", "home-idp-database")
    assert postgres is not None and database is not None
    password = base64.b64decode(postgres["data"]["password"]).decode()
    url = base64.b64decode(database["data"]["database-url"]).decode()
    assert (
        url
        == f"postgres://home_idp:{quote(password, safe='')}@postgres-postgresql.home-idp.svc:5432/home_idp"
    )
    repo = kube.get("secrets", "argocd", "home-idp-platform-repo")
    assert repo is not None
    assert repo["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert "Argo CD can read the platform repo" in text
    assert password not in text

    terminal, out = console()
    assert await run_install(settings, terminal, dry_run=False) == 0
    for name in ("postgres", "harbor", "argocd"):
        assert f"ready  {name}  up to date; nothing to do" in out.getvalue()
    assert "installing" not in out.getvalue()


async def test_unknown_components_are_refused(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, Any], tuple[str, ...], str]] = [
        ({"nope": {}}, (), "HOME_IDP_INSTALL__COMPONENTS names nope"),
        ({}, ("ghost",), "no component ghost"),
    ]
    for components, only, says in cases:
        settings = Settings(
            profile="cluster",
            data_dir=tmp_path,
            install=InstallSettings(
                components=components, options={"helm": SecretStr(helm_binary())}
            ),
        )
        terminal, out = console()
        assert await run_install(settings, terminal, dry_run=True, only=only) == 2
        assert says in out.getvalue()


async def test_an_unknown_installer_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, install=InstallSettings(plugin="ansible"))
    terminal, out = console()
    assert await run_install(settings, terminal, dry_run=True) == 2
    assert "no installer plugin named 'ansible'" in out.getvalue()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"namespace": "Bad_NS"}, "namespace"),
        ({"valeus": {}}, "valeus"),
        ({"values": "x"}, "values"),
        ({"version": None, "repo_url": 5}, "repo_url"),
        ({"repo_url": "file:///etc"}, "repo_url"),
    ],
)
def test_bad_overrides_are_refused_by_the_settings(override: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        InstallSettings(components={"harbor": override})


def test_a_new_chart_is_not_looked_up_in_the_old_repo(tmp_path: Path) -> None:
    settings = Settings(
        profile="cluster",
        data_dir=tmp_path,
        install=InstallSettings(components={"harbor": {"chart": "/charts/harbor.tgz"}}),
    )
    harbor = next(entry.spec for entry in catalog(settings) if entry.spec.name == "harbor")
    assert (harbor.chart, harbor.repo_url, harbor.version) == ("/charts/harbor.tgz", None, "1.17.1")


def test_components_and_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_IDP_INSTALL__PLUGIN", "helm")
    monkeypatch.setenv("HOME_IDP_INSTALL__COMPONENTS", json.dumps({"argocd": {"version": "9.0.0"}}))
    settings = Settings()
    assert settings.install.plugin == "helm"
    assert settings.install.components["argocd"].version == "9.0.0"


@pytest.mark.parametrize(("registry", "warned"), [("distribution", True), ("harbor", False)])
async def test_a_cluster_with_a_plain_registry_is_told_its_push_account_is_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: str, warned: bool
) -> None:
    helm_environment(monkeypatch, tmp_path)
    settings = Settings(
        profile="cluster",
        data_dir=tmp_path / "data",
        registry=RegistrySettings(plugin=registry),
        install=InstallSettings(options={"helm": SecretStr(helm_binary())}),
    )
    terminal, out = console()
    assert await run_install(settings, terminal, dry_run=True) == 0
    text = " ".join(out.getvalue().split())
    assert ("could push to another project's repositories" in text) is warned
