"""The install-manager: desired components, observed state, and the work between them.

Desired state is the catalog (the profile's pinned charts and values);
observed state is what the installer reports (`helm status`, the local
registry's process). Installing is idempotent: a component that runs the
desired version with the desired values is left alone. One operation runs
at a time per process; each step is reported as an `InstallEvent` (to the
event bus and the `component` table in the server, to the terminal in the CLI).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentState,
    ComponentStatus,
    InstallerPlugin,
    InstallError,
    values_digest,
)
from home_idp.server.errors import Conflict, NotFound
from home_idp.server.install.catalog import CatalogEntry
from home_idp.server.install.cluster_secrets import ClusterSecrets

__all__ = ["INSTALL_TOPIC", "InstallEvent", "InstallManager", "Reporter"]

log = logging.getLogger(__name__)

INSTALL_TOPIC = "install"


@dataclass(frozen=True)
class InstallEvent:
    """A component's state changed, or an install made progress."""

    component: str
    status: ComponentStatus
    message: str
    revision: int | None = None
    values_digest: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Reporter = Callable[[InstallEvent], Awaitable[None]]
# After a component is ready: what else home-idp needs of it; returns what it did.
Configurer = Callable[[], Awaitable[str]]


class InstallManager:
    """Installs the catalog's components in dependency order and reports every step."""

    def __init__(
        self,
        entries: Sequence[CatalogEntry],
        installer: InstallerPlugin,
        report: Reporter,
        *,
        secrets: ClusterSecrets | None = None,
        configurers: Mapping[str, Configurer] | None = None,
    ) -> None:
        self.entries = list(entries)
        self.installer = installer
        self._report = report
        self._secrets = secrets
        self._configurers = dict(configurers or {})
        self._busy = asyncio.Lock()

    def entry(self, name: str) -> CatalogEntry:
        for entry in self.entries:
            if entry.spec.name == name:
                return entry
        raise NotFound(f"no component {name!r} (components: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [entry.spec.name for entry in self.entries]

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    async def _emit(self, name: str, state: ComponentState, message: str | None = None) -> None:
        event = InstallEvent(
            name, state.status, message or state.message, state.revision, state.values_digest
        )
        await self._report(event)

    async def queued(self, name: str, what: str) -> None:
        """Report that an operation on the component was accepted and is about to run."""
        self.entry(name)
        await self._emit(name, ComponentState(ComponentStatus.INSTALLING), f"{what} queued")

    async def install(self, name: str) -> ComponentState:
        """Install or upgrade one component whose dependencies are ready."""
        entry = self.entry(name)
        if self._busy.locked():
            raise Conflict("another install is running; wait for it to finish")
        async with self._busy:
            return await self._install(entry)

    def chosen(self, names: Sequence[str] | None) -> list[CatalogEntry]:
        """The entries named (all when None), in install order; NotFound for an unknown one."""
        if names is None:
            return list(self.entries)
        wanted = {self.entry(name).spec.name for name in names}
        return [entry for entry in self.entries if entry.spec.name in wanted]

    async def install_all(
        self, names: Sequence[str] | None = None
    ) -> list[tuple[str, ComponentState]]:
        """Every component (or those named), dependencies first; after a failure the
        rest are left alone."""
        chosen = self.chosen(names)
        if self._busy.locked():
            raise Conflict("another install is running; wait for it to finish")
        results: list[tuple[str, ComponentState]] = []
        async with self._busy:
            failed: str | None = None
            for entry in chosen:
                name = entry.spec.name
                if failed is not None:
                    # Left as it is (it may run an earlier version): only reported.
                    observed = await self._observe(entry.spec)
                    state = replace(observed, message=f"skipped: {failed} failed before it")
                    await self._emit(name, state)
                else:
                    state = await self._install(entry)
                    if state.status is not ComponentStatus.READY:
                        failed = name
                results.append((name, state))
        return results

    async def _install(self, entry: CatalogEntry) -> ComponentState:
        spec = entry.spec
        for dependency in spec.depends_on:
            ready = await self._observe(self.entry(dependency).spec)
            if ready.status is not ComponentStatus.READY:
                state = ComponentState(
                    ComponentStatus.FAILED, f"needs {dependency}, which is {ready.status.value}"
                )
                await self._emit(spec.name, state)
                return state
        try:
            observed = await self._observe(spec)
            if observed.external:
                # Nothing was or will be installed: say whose it is, not "up to date".
                state = replace(observed, message=f"{observed.message}; home-idp leaves it alone")
            elif _unchanged(observed, spec):
                state = replace(observed, message="up to date; nothing to do")
            else:
                await self._emit(
                    spec.name,
                    ComponentState(ComponentStatus.INSTALLING),
                    f"installing {spec.chart} {spec.version} into {spec.namespace}",
                )
                await self._prepare_secrets(entry)
                state = await self.installer.install(spec)
            if state.status is ComponentStatus.READY and spec.name in self._configurers:
                # Every time, not only after a change: the steps are idempotent, and
                # one that failed before is tried again.
                done = await self._configurers[spec.name]()
                state = replace(state, message=f"{state.message}; {done}")
        except InstallError as error:
            state = ComponentState(ComponentStatus.FAILED, str(error))
        except Exception as error:  # a plugin's own error: recorded, never a stuck "installing"
            log.exception("installing %s failed", spec.name)
            state = ComponentState(
                ComponentStatus.FAILED,
                f"unexpected error ({type(error).__name__}); see the server log",
            )
        await self._emit(spec.name, state)
        return state

    async def observe(self, name: str) -> ComponentState:
        """Look at one component as it is now and report it, installing nothing."""
        state = await self._observe(self.entry(name).spec)
        await self._emit(name, state)
        return state

    async def _observe(self, spec: ComponentSpec) -> ComponentState:
        try:
            return await self.installer.status(spec)
        except InstallError as error:
            return ComponentState(ComponentStatus.FAILED, str(error))

    async def _prepare_secrets(self, entry: CatalogEntry) -> None:
        if not entry.secrets or self._secrets is None:
            return
        for secret in entry.secrets:
            created = await self._secrets.ensure_generated(entry.spec.namespace, secret)
            if created:
                await self._emit(
                    entry.spec.name,
                    ComponentState(ComponentStatus.INSTALLING),
                    f"generated the Secret {secret.name} in {entry.spec.namespace}",
                )

    async def check_uninstallable(self, name: str) -> None:
        """Conflict when an installed component depends on `name`."""
        self.entry(name)
        for other in self.entries:
            if name in other.spec.depends_on:
                observed = await self._observe(other.spec)
                if observed.status is not ComponentStatus.ABSENT:
                    raise Conflict(f"{other.spec.name} depends on {name}; uninstall it first")

    async def uninstall(self, name: str) -> ComponentState:
        """Remove a component no installed component depends on."""
        spec = self.entry(name).spec
        await self.check_uninstallable(name)
        if self._busy.locked():
            raise Conflict("another install is running; wait for it to finish")
        async with self._busy:
            await self._emit(name, ComponentState(ComponentStatus.INSTALLING), "uninstalling")
            try:
                state = await self.installer.uninstall(spec)
            except InstallError as error:
                state = ComponentState(ComponentStatus.FAILED, str(error))
            await self._emit(name, state)
            return state


def _unchanged(observed: ComponentState, spec: ComponentSpec) -> bool:
    return (
        observed.status is ComponentStatus.READY
        and observed.version == spec.version
        and observed.values_digest == values_digest(spec.values)
    )
