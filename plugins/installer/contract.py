"""The installer contract: install a component idempotently and report its state, and its data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "ComponentSpec",
    "ComponentState",
    "ComponentStatus",
    "InstallError",
    "InstallerConfig",
    "InstallerPlugin",
    "values_digest",
]


class InstallError(Exception):
    """An installer cannot do what it was asked; the message says what to check."""


@dataclass(frozen=True)
class InstallerConfig:
    """Where an installer keeps its files, and its own settings."""

    data_dir: Path
    options: Mapping[str, str] = field(default_factory=dict)


class ComponentStatus(StrEnum):
    ABSENT = "absent"
    INSTALLING = "installing"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ComponentSpec:
    """One dependency as it should be: a chart at a pinned version with its values.

    `values` may hold secrets; installers never log them or put them on a
    command line. `chart` is a chart reference (`name` with `repo_url`, an
    `oci://` reference or a local path) or, for the local registry, a
    program's name.
    """

    name: str
    chart: str
    version: str
    namespace: str
    values: Mapping[str, object] = field(default_factory=dict, repr=False)
    repo_url: str | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComponentState:
    """What an installer found or did: status, why, and the revision that runs."""

    status: ComponentStatus
    message: str = ""
    version: str | None = None
    revision: int | None = None
    # `values_digest` of the values it runs with, when the installer can tell.
    values_digest: str | None = None
    # Run by another program (a system service, another home-idp): usable, but
    # not installed by this installer, which leaves it alone.
    external: bool = False


def values_digest(values: Mapping[str, object]) -> str:
    """A digest of component values: equal values, equal digest (key order aside).

    Numbers are taken as helm gives them back (`1.0` as `1`), so the values
    helm reports for a release digest the same as the values it was given.
    """
    canonical = json.dumps(
        _as_helm_reads(values), sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _as_helm_reads(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): _as_helm_reads(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_helm_reads(item) for item in value]
    return value


@runtime_checkable
class InstallerPlugin(Protocol):
    """Installs, inspects and removes components (Helm releases, local programs)."""

    async def check(self) -> str:
        """The tool's version, e.g. "helm v4.3.1"; InstallError when missing or too old."""
        ...

    def plan(self, spec: ComponentSpec) -> list[list[str]]:
        """The commands `install` would run, values shown by file name only (for --dry-run)."""
        ...

    async def install(self, spec: ComponentSpec) -> ComponentState:
        """Install or upgrade `spec` and wait until it is ready (or failed, rolled back)."""
        ...

    async def status(self, spec: ComponentSpec) -> ComponentState:
        """The component as it is now."""
        ...

    async def uninstall(self, spec: ComponentSpec) -> ComponentState:
        """Remove the component; ABSENT when it is gone."""
        ...

    async def aclose(self) -> None:
        """Stop what the installer runs or holds."""
        ...
