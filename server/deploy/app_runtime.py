"""A running app as its users see it: its objects, its live logs, and restarting a pod.

Everything goes through the deployer's "what runs" view; secret values the
app holds are masked in every line and status before it leaves the server.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, replace

from home_idp.plugins.deployer.contract import (
    AppLogLine,
    AppResource,
    DeployerPlugin,
    DeployError,
    InstanceNotFound,
)
from home_idp.server.apps.config import app_secret_values
from home_idp.server.apps.models import App
from home_idp.server.apps.service import AppService
from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.names import validate_dns_subdomain
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.secret_box import SecretBox, secret_masker

__all__ = ["MAX_LOG_LINE", "MAX_TAIL_LINES", "AppRuntime", "LogStreamSlots"]

MAX_TAIL_LINES = 5000
MAX_LOG_LINE = 8192


class LogStreamSlots:
    """How many app log streams may be open at once on this server, and per user.

    Each one holds a connection to the cluster (or a process here), so a
    client opening them in a loop gets an error rather than the server's
    threads, and one user cannot take every stream from the others.
    """

    def __init__(self, limit: int, per_user: int = 8) -> None:
        self.limit = limit
        self.per_user = per_user
        self.open = 0
        self._by_user: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def slot(self, user: str) -> Iterator[None]:
        if self.open >= self.limit:
            raise Conflict(f"{self.limit} app log streams are open already; try again later")
        if self._by_user[user] >= self.per_user:
            raise Conflict(f"you have {self.per_user} app log streams open already; close one")
        self.open += 1
        self._by_user[user] += 1
        try:
            yield
        finally:
            self.open -= 1
            self._by_user[user] -= 1
            if not self._by_user[user]:
                del self._by_user[user]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LOG_LINE else text[:MAX_LOG_LINE] + "…"


@dataclass(frozen=True)
class AppRuntime:
    """The running side of one caller's apps."""

    authz: Authorizer
    audit: AuditLog
    apps: AppService
    deployer: DeployerPlugin
    secret_box: SecretBox
    slots: LogStreamSlots

    async def resources(self, app_id: int) -> list[AppResource]:
        """The objects that run the app (viewers and up); never a Secret's data."""
        app = await self._app(app_id, "resource")
        mask = secret_masker((await app_secret_values(app, self.secret_box)).values())
        try:
            found = await self.deployer.app_resources(app.project.name, app.name)
        except DeployError as error:
            raise Conflict(f"the deployer could not list the app's objects: {error}") from None
        return [replace(r, status=mask(r.status)) for r in found]

    async def logs(
        self, app_id: int, *, follow: bool, tail_lines: int
    ) -> AsyncGenerator[AppLogLine, None]:
        """The app's log lines, secrets masked, each at most MAX_LOG_LINE characters.

        Ends when the caller stops reading: the deployer's streams close with it.
        A followed log may stay open for hours: the GraphQL subscription that
        serves it ends it when the caller's rights end (`check_log_reader`).
        """
        if not 0 <= tail_lines <= MAX_TAIL_LINES:
            raise ValidationFailed.for_field("tailLines", f"must be 0 to {MAX_TAIL_LINES}")
        app = await self._app(app_id, "log")
        mask = secret_masker((await app_secret_values(app, self.secret_box)).values())
        # aclosing: the deployer's streams close when the caller stops reading,
        # not when the generator is collected.
        with self.slots.slot(self.authz.principal.username):
            try:
                async with contextlib.aclosing(
                    self.deployer.app_logs(
                        app.project.name, app.name, follow=follow, tail_lines=tail_lines
                    )
                ) as lines:
                    async for line in lines:
                        # Masked before it is cut: a cut secret would no longer match.
                        yield AppLogLine(line.source, _cut(mask(line.text)))
            except DeployError as error:
                raise Conflict(f"the app's logs could not be read: {error}") from None

    async def delete_pod(self, app_id: int, name: str) -> App:
        """Delete one of the app's pods (maintainers); its Deployment starts a fresh one."""
        app = await self.apps.get(app_id)
        self.authz.require_write()
        await self.authz.require("pod", "delete", app.project.name)
        validate_dns_subdomain(name)  # what pod (and container) names are
        try:
            await self.deployer.delete_instance(app.project.name, app.name, name)
        except InstanceNotFound:
            raise NotFound(f"the app has no pod named {name[:80]!r}") from None
        except DeployError as error:
            raise Conflict(f"the pod could not be deleted: {error}") from None
        await self.audit.record_app(
            self.authz.principal,
            "app.delete_pod",
            app.project.name,
            app.name,
            {"pod": name[:253]},
        )
        return app

    async def check_log_reader(self, app_id: int) -> None:
        """Raise unless the caller may (still) read the logs of an app they have followed."""
        app = await App.get_or_none(id=app_id).prefetch_related("project")
        if app is None:
            raise NotFound("the app was deleted")
        await self.authz.require("log", "read", app.project.name)

    async def _app(self, app_id: int, resource: str) -> App:
        app = await self.apps.get(app_id)
        await self.authz.require(resource, "read", app.project.name)
        return app
