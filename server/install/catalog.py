"""The components of each profile: pinned charts, their values, their order.

Cluster: Postgres (home-idp's database), Harbor (the registry)
and Argo CD (the GitOps engine), as Helm charts at pinned versions. Local: the
CNCF registry on this machine. Passwords are never in the values: each chart
is pointed at a Kubernetes Secret that the install-manager generates once
(`GeneratedSecret`), so values, logs and `--dry-run` output hold no secret.
Settings override versions, namespaces and values per component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from home_idp.plugins.installer.contract import ComponentSpec
from home_idp.server.deploy.registry_access import registry_webhook_secret
from home_idp.server.settings import ComponentOverride, Settings

__all__ = ["CatalogEntry", "GeneratedSecret", "catalog", "install_order"]


@dataclass(frozen=True)
class GeneratedSecret:
    """A Secret made once with random values for `keys` (kept across upgrades).

    Values are 32 characters, or as many as `lengths` says for a key.
    """

    name: str
    keys: tuple[str, ...]
    lengths: tuple[tuple[str, int], ...] = ()

    def length(self, key: str) -> int:
        return dict(self.lengths).get(key, 32)


@dataclass(frozen=True)
class CatalogEntry:
    spec: ComponentSpec
    secrets: tuple[GeneratedSecret, ...] = ()
    description: str = ""


POSTGRES_SECRET = GeneratedSecret("home-idp-postgres", ("postgres-password", "password"))
# Harbor's chart wants its secretKey exactly 16 characters long.
HARBOR_SECRET = GeneratedSecret(
    "home-idp-harbor", ("HARBOR_ADMIN_PASSWORD", "secretKey"), (("secretKey", 16),)
)
# Argo CD reads its server key from this Secret by name (the chart is told not to make it).
ARGOCD_SECRET = GeneratedSecret("argocd-secret", ("server.secretkey",))


def _cluster(settings: Settings) -> list[CatalogEntry]:
    registry_host = urlsplit(settings.registry.url).netloc
    return [
        CatalogEntry(
            ComponentSpec(
                name="postgres",
                chart="oci://registry-1.docker.io/bitnamicharts/postgresql",
                version="16.7.27",
                namespace="home-idp",
                values={
                    "auth": {
                        "username": "home_idp",
                        "database": "home_idp",
                        "existingSecret": POSTGRES_SECRET.name,
                    },
                    "primary": {"persistence": {"size": "8Gi"}},
                },
            ),
            (POSTGRES_SECRET,),
            "home-idp's database",
        ),
        CatalogEntry(
            ComponentSpec(
                name="harbor",
                chart="harbor",
                repo_url="https://helm.goharbor.io",
                version="1.17.1",
                namespace="harbor",
                values={
                    "externalURL": f"https://{registry_host}",
                    "existingSecretAdminPassword": HARBOR_SECRET.name,
                    "existingSecretAdminPasswordKey": "HARBOR_ADMIN_PASSWORD",
                    "existingSecretSecretKey": HARBOR_SECRET.name,
                    "expose": {"type": "clusterIP", "tls": {"enabled": False}},
                },
            ),
            (HARBOR_SECRET,),
            "the image registry: a project and robot accounts per home-idp project",
        ),
        CatalogEntry(
            ComponentSpec(
                name="argocd",
                chart="argo-cd",
                repo_url="https://argoproj.github.io/argo-helm",
                version="8.3.0",
                namespace="argocd",
                values={
                    "configs": {
                        "secret": {"createSecret": False},
                        "params": {"server.insecure": True},
                    },
                },
            ),
            (ARGOCD_SECRET,),
            "the GitOps engine that syncs the platform repo's manifests",
        ),
    ]


def _local(settings: Settings) -> list[CatalogEntry]:
    parts = urlsplit(settings.registry.url)
    return [
        CatalogEntry(
            ComponentSpec(
                name="registry",
                chart="docker-registry",
                version="2",
                namespace="local",
                values={
                    "port": parts.port or 5000,
                    "webhook_url": f"{settings.base_url}/webhooks/registry",
                    "webhook_secret": registry_webhook_secret(settings),
                },
            ),
            description="the CNCF registry on this machine, notifying home-idp of pushes",
        )
    ]


def catalog(settings: Settings) -> list[CatalogEntry]:
    """The profile's components with the settings' overrides, in install order.

    ValueError names an override of no component (the settings check the rest).
    """
    entries = _cluster(settings) if settings.profile == "cluster" else _local(settings)
    names = {entry.spec.name for entry in entries}
    unknown = sorted(set(settings.install.components) - names)
    if unknown:
        raise ValueError(
            f"HOME_IDP_INSTALL__COMPONENTS names {', '.join(unknown)}; the {settings.profile} "
            f"profile has {', '.join(sorted(names))}"
        )
    overridden = [
        _override(entry, settings.install.components.get(entry.spec.name)) for entry in entries
    ]
    return install_order(overridden)


def _override(entry: CatalogEntry, override: ComponentOverride | None) -> CatalogEntry:
    if override is None:
        return entry
    spec = entry.spec
    chart_moved = override.chart is not None
    return replace(
        entry,
        spec=replace(
            spec,
            chart=override.chart or spec.chart,
            repo_url=override.repo_url if chart_moved or override.repo_url else spec.repo_url,
            version=override.version or spec.version,
            namespace=override.namespace or spec.namespace,
            values=_merged(spec.values, override.values),
        ),
    )


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merged(current, value)
        else:
            merged[key] = value
    return merged


def install_order(entries: list[CatalogEntry]) -> list[CatalogEntry]:
    """Dependencies first, otherwise as listed; ValueError on a cycle or unknown name."""
    by_name = {entry.spec.name: entry for entry in entries}
    ordered: list[CatalogEntry] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        entry = by_name.get(name)
        if entry is None:
            raise ValueError(f"unknown component {name!r}")
        if entry in ordered:
            return
        if name in visiting:
            raise ValueError(f"components depend on each other in a circle at {name!r}")
        visiting.add(name)
        for dependency in entry.spec.depends_on:
            visit(dependency)
        visiting.discard(name)
        ordered.append(entry)

    for entry in entries:
        visit(entry.spec.name)
    return ordered
