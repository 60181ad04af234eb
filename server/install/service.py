"""install-manager in the server: the components' state in the database, progress on
the event bus, installs in the background, and administrators only for changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from home_idp.plugins.discovery import load_plugin
from home_idp.plugins.installer.contract import ComponentStatus, InstallerConfig, InstallerPlugin
from home_idp.server.deploy.service import DeployManager
from home_idp.server.errors import Conflict
from home_idp.server.events import EventBus
from home_idp.server.install.catalog import CatalogEntry, catalog
from home_idp.server.install.cluster_secrets import ClusterSecrets
from home_idp.server.install.configure import configurers
from home_idp.server.install.manager import INSTALL_TOPIC, InstallEvent, InstallManager
from home_idp.server.install.models import Component
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.settings import Settings

__all__ = ["ComponentView", "InstallRuntime", "InstallService", "install_options", "make_installer"]

log = logging.getLogger(__name__)


def install_options(settings: Settings) -> dict[str, str]:
    """The installer's options (and the Kubernetes API's for the components' Secrets)."""
    return settings.install.plain_options()


def make_installer(settings: Settings) -> InstallerPlugin:
    """The installer the settings name (default: local, or helm in the cluster profile)."""
    name = settings.install.plugin or ("helm" if settings.profile == "cluster" else "local")
    plugin: InstallerPlugin = load_plugin("installer", name)(
        InstallerConfig(data_dir=settings.data_dir, options=install_options(settings))
    )
    return plugin


@dataclass(frozen=True)
class ComponentView:
    """A component as the API shows it: what it should be and how it was last seen."""

    entry: CatalogEntry
    row: Component | None

    @property
    def status(self) -> ComponentStatus:
        return ComponentStatus(self.row.status) if self.row else ComponentStatus.ABSENT


class InstallRuntime:
    """Long-lived install state of the server: the manager and its background work."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        deploy: DeployManager,
        *,
        installer: InstallerPlugin | None = None,
        entries: list[CatalogEntry] | None = None,
    ) -> None:
        self.settings = settings
        self._bus = bus
        entries = entries if entries is not None else catalog(settings)
        cluster = settings.profile == "cluster"
        secrets = ClusterSecrets(install_options(settings))
        self.manager = InstallManager(
            entries,
            installer or make_installer(settings),
            self._record,
            # Only charts read generated Secrets; the local registry has none.
            secrets=secrets if cluster else None,
            configurers=configurers(settings, secrets, entries, deploy.accounts)
            if cluster
            else None,
        )
        self._tasks: set[asyncio.Task[object]] = set()
        # Taken by a request before its first await, so two requests cannot both start.
        self.reserved = False

    async def _record(self, event: InstallEvent) -> None:
        entry = self.manager.entry(event.component)
        fields: dict[str, object] = {
            "chart": entry.spec.chart,
            "version": entry.spec.version,
            "namespace": entry.spec.namespace,
            "status": event.status.value,
            "message": event.message,
        }
        if event.status is not ComponentStatus.INSTALLING:
            fields |= {"revision": event.revision, "values_digest": event.values_digest}
        await Component.update_or_create(defaults=fields, name=event.component)
        self._bus.publish(INSTALL_TOPIC, event)

    def in_background(self, name: str, work: Coroutine[Any, Any, object]) -> None:
        """Run an install operation as a task the server owns (not the request).

        The reservation a request took passes to the task and ends with it.
        """
        task: asyncio.Task[object] = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        self.reserved = False
        if not task.cancelled() and task.exception() is not None:
            log.error("install task %s failed", task.get_name(), exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until the install operations under way have ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def start(self) -> None:
        # An operation that a stopped server left under way will not finish.
        await Component.filter(status=ComponentStatus.INSTALLING.value).update(
            status=ComponentStatus.FAILED.value,
            message="interrupted: the server stopped while it ran; install again",
        )
        if self.settings.install.on_start:
            self.reserved = True
            self.in_background("install-all", self.manager.install_all())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.manager.installer.aclose()

    def session(self, authz: Authorizer, audit: AuditLog) -> InstallService:
        return InstallService(authz, audit, self)


class InstallService:
    """install-manager operations for one caller: everyone reads, administrators change."""

    def __init__(self, authz: Authorizer, audit: AuditLog, runtime: InstallRuntime) -> None:
        self._authz = authz
        self._audit = audit
        self._runtime = runtime

    @property
    def _manager(self) -> InstallManager:
        return self._runtime.manager

    async def components(self) -> list[ComponentView]:
        self._authz.require_user()
        rows = {row.name: row for row in await Component.all()}
        return [ComponentView(entry, rows.get(entry.spec.name)) for entry in self._manager.entries]

    async def component(self, name: str) -> ComponentView:
        self._authz.require_user()
        entry = self._manager.entry(name)
        return ComponentView(entry, await Component.get_or_none(name=name))

    def _require_admin(self) -> None:
        self._authz.require_admin()
        self._authz.require_write()

    async def install(self, name: str) -> ComponentView:
        """Start installing one component; progress comes as events."""
        await self._start("install", [name], self._manager.install(name))
        return await self.component(name)

    async def uninstall(self, name: str) -> ComponentView:
        """Start uninstalling a component nothing installed depends on."""
        await self._start("uninstall", [name], self._manager.uninstall(name))
        return await self.component(name)

    async def install_all(self, names: Sequence[str] | None = None) -> list[ComponentView]:
        """Start installing every component (or those named), dependencies first."""
        chosen = [entry.spec.name for entry in self._manager.chosen(names)]
        await self._start("install", chosen, self._manager.install_all(chosen))
        return [view for view in await self.components() if view.entry.spec.name in chosen]

    async def _start(
        self, what: str, names: Sequence[str], work: Coroutine[Any, Any, object]
    ) -> None:
        """Check, reserve, record and start an operation; it runs in the background."""
        try:
            principal = self._authz.require_admin()
            self._authz.require_write()
            for name in names:
                self._manager.entry(name)  # NotFound before anything starts
            runtime = self._runtime
            if runtime.reserved or self._manager.busy:
                raise Conflict("another install is running; wait for it to finish")
            runtime.reserved = True
        except BaseException:
            work.close()  # never started: no "coroutine was never awaited"
            raise
        try:
            if what == "uninstall":
                await self._manager.check_uninstallable(names[0])
            for name in names:
                await self._manager.queued(name, what)
            await self._audit.record(
                principal, f"component.{what}", f"components:{','.join(names)}"
            )
        except BaseException:
            runtime.reserved = False
            work.close()
            raise
        runtime.in_background(f"{what}-{'-'.join(names)}", work)
