"""`home-idp install`: bootstrap the profile's components from a terminal.

It runs where the admin's kubeconfig (or the local machine) is, before
home-idp itself may be running, so it keeps no state of its own: what is
installed is asked of the installer (`helm status`). `--dry-run` only
prints the commands and the values (secret-looking values masked) and
touches nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from home_idp.plugins.discovery import PluginNotFound
from home_idp.plugins.installer.contract import ComponentStatus, InstallerPlugin, InstallError
from home_idp.plugins.support.masking import MASK
from home_idp.server.install.catalog import CatalogEntry, catalog
from home_idp.server.install.cluster_secrets import ClusterSecrets
from home_idp.server.install.configure import configurers
from home_idp.server.install.manager import InstallEvent, InstallManager
from home_idp.server.install.service import install_options, make_installer
from home_idp.server.settings import Settings

__all__ = ["run_install"]

_COLOURS = {
    ComponentStatus.READY: "green",
    ComponentStatus.INSTALLING: "cyan",
    ComponentStatus.FAILED: "red",
    ComponentStatus.ABSENT: "yellow",
}
_SECRET_WORDS = ("secret", "password", "token", "key")


# What a plain registry cannot do, said wherever the cluster is set up with one.
SHARED_PUSH_ACCOUNT = (
    "the distribution registry has one account (htpasswd) for every project: a build of "
    "one project could push to another project's repositories. Harbor gives each project "
    "a robot account that can push only to its own (HOME_IDP_REGISTRY__PLUGIN=harbor)."
)


async def run_install(
    settings: Settings,
    console: Console,
    *,
    dry_run: bool,
    only: Sequence[str] = (),
    installer: InstallerPlugin | None = None,
) -> int:
    """Install (or with `dry_run`, show) the profile's components; 0 when all are ready."""
    try:
        entries = catalog(settings)
        installer = installer or make_installer(settings)
    except (ValueError, InstallError, PluginNotFound) as error:
        console.print(f"home-idp install: {error}", style="red", markup=False)
        return 2
    chosen = [entry for entry in entries if not only or entry.spec.name in only]
    unknown = sorted(set(only) - {entry.spec.name for entry in entries})
    if unknown:
        console.print(
            f"home-idp install: no component {', '.join(unknown)}", style="red", markup=False
        )
        return 2
    if settings.profile == "cluster" and settings.registry.plugin == "distribution":
        console.print(f"note: {SHARED_PUSH_ACCOUNT}", style="yellow", markup=False)
    try:
        if dry_run:
            return await _show(console, installer, chosen)
        return await _install(settings, console, installer, entries, chosen)
    finally:
        if settings.profile == "cluster" or dry_run:
            await installer.aclose()


async def _show(console: Console, installer: InstallerPlugin, entries: list[CatalogEntry]) -> int:
    try:
        console.print(f"installer: {await installer.check()}")
    except InstallError as error:
        console.print(f"[yellow]installer: {error}[/yellow]")
    for entry in entries:
        spec = entry.spec
        console.rule(f"{spec.name}: {spec.chart} {spec.version} in {spec.namespace}")
        if spec.depends_on:
            console.print(f"after: {', '.join(spec.depends_on)}")
        for secret in entry.secrets:
            console.print(
                f"Secret {secret.name} in {spec.namespace}: generated once "
                f"({', '.join(secret.keys)})"
            )
        for command in installer.plan(spec):
            console.print("$ " + " ".join(command), markup=False, highlight=False)
        console.print(f"{spec.name}-values.yaml:", style="bold")
        console.print(yaml.safe_dump(_masked(spec.values), sort_keys=True).rstrip(), markup=False)
    console.print("dry run: nothing was changed")
    return 0


async def _install(
    settings: Settings,
    console: Console,
    installer: InstallerPlugin,
    entries: list[CatalogEntry],
    chosen: list[CatalogEntry],
) -> int:
    try:
        console.print(f"installer: {await installer.check()}")
    except InstallError as error:
        console.print(f"home-idp install: {error}", style="red", markup=False)
        return 1

    async def report(event: InstallEvent) -> None:
        colour = _COLOURS[event.status]
        console.print(
            f"[{colour}]{event.status.value:>10}[/{colour}]  [bold]{event.component}[/bold]  "
            f"{event.message}",
            highlight=False,
        )

    cluster = settings.profile == "cluster"
    secrets = ClusterSecrets(install_options(settings))
    manager = InstallManager(
        entries,
        installer,
        report,
        secrets=secrets if cluster else None,
        # Harbor's projects are configured by the server, which has the database.
        configurers=configurers(settings, secrets, entries) if cluster else None,
    )
    with console.status("installing…"):
        results = await manager.install_all([entry.spec.name for entry in chosen])
    table = Table(title="components")
    for column in ("component", "status", "message"):
        table.add_column(column)
    for name, state in results:
        colour = _COLOURS[state.status]
        table.add_row(name, f"[{colour}]{state.status.value}[/{colour}]", state.message)
    console.print(table)
    ready = all(state.status is ComponentStatus.READY for _, state in results)
    if ready and not cluster:
        console.print("the local registry runs while this command does; Ctrl-C stops it")
        try:
            await asyncio.Event().wait()
        finally:
            await installer.aclose()
    return 0 if ready else 1


def _masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `values` with values under secret-looking keys replaced."""
    masked: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            masked[key] = _masked(value)
        elif isinstance(value, list | tuple):
            masked[key] = [
                _masked(item) if isinstance(item, Mapping) else _masked({key: item})[key]
                for item in value
            ]
        elif (
            isinstance(value, str)
            and any(word in key.lower() for word in _SECRET_WORDS)
            # The names of Secrets are no secrets.
            and not key.lower().startswith("existingsecret")
        ):
            masked[key] = MASK
        else:
            masked[key] = json.loads(json.dumps(value, default=str))
    return masked
