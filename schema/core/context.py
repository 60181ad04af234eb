"""The typed context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from home_idp.schema.core.loaders import Loaders
from home_idp.server.apps import AppsSession
from home_idp.server.deploy.service import DeploySession
from home_idp.server.install.service import InstallService
from home_idp.server.rbac import ANONYMOUS, Principal, RbacSession
from home_idp.server.rbac.reauthentication import authenticate_again
from home_idp.server.runtime import Runtime
from home_idp.server.trace.service import TraceService

__all__ = ["Context", "Info"]


@dataclass
class Context:
    runtime: Runtime
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    principal: Principal = ANONYMOUS
    # Filled by Strawberry from the websocket `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(default_factory=Loaders)
    # The credential the caller authenticated with, kept to look them up again.
    bearer: str | None = field(default=None, repr=False)

    async def renewed(self) -> Context:
        """A context for one more operation of this caller, made from scratch.

        The caller is authenticated again from their credential (expiry, token
        version, account status, API token revocation, admin flag as they are
        now) and gets fresh services and loaders, so no right or answer is
        carried over from an earlier operation. Raises AuthenticationFailed,
        saying why, when the credential no longer works.
        """
        principal = await authenticate_again(
            self.runtime.rbac.authenticator, self.principal, self.bearer
        )
        return replace(self, principal=principal, loaders=Loaders())

    @cached_property
    def rbac(self) -> RbacSession:
        """rbac services bound to the caller; made on first use, after websocket auth."""
        return self.runtime.rbac.session(self.principal)

    @cached_property
    def apps(self) -> AppsSession:
        """apps services (apps, Dockerfiles, files, variables, secrets) bound to the caller."""
        return self.runtime.apps.session(self.rbac.authz, self.rbac.audit)

    @cached_property
    def deploy(self) -> DeploySession:
        """deploy services bound to the caller."""
        return self.runtime.deploy.session(self.rbac, self.apps)

    @cached_property
    def trace(self) -> TraceService:
        """trace-manager services bound to the caller."""
        return self.runtime.trace.session(self.rbac.authz)

    @cached_property
    def install(self) -> InstallService:
        """install-manager services bound to the caller."""
        return self.runtime.install.session(self.rbac.authz, self.rbac.audit)

    @property
    def max_page_size(self) -> int:
        return self.runtime.settings.graphql.max_page_size


Info = strawberry.Info[Context, None]
