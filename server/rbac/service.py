"""rbac-manager: one entry point that hands out its services per caller."""

from __future__ import annotations

from dataclasses import dataclass

from home_idp.server.events import EventBus
from home_idp.server.rbac.access_changes import AccessChanges
from home_idp.server.rbac.api_tokens import ApiTokens
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.auth import Authenticator
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.rbac.passwords import PasswordHashing
from home_idp.server.rbac.principal import Principal
from home_idp.server.rbac.projects import ProjectService
from home_idp.server.rbac.role_admin import RoleAdmin
from home_idp.server.rbac.sessions import Sessions
from home_idp.server.rbac.tokens import JwtCodec
from home_idp.server.rbac.users import UserAdmin
from home_idp.server.settings import AuthSettings

__all__ = ["RbacManager", "RbacSession"]


@dataclass(frozen=True)
class RbacSession:
    """The rbac services bound to one principal (one request or subscription)."""

    principal: Principal
    authz: Authorizer
    auth: Authenticator
    users: UserAdmin
    projects: ProjectService
    roles: RoleAdmin
    api_tokens: ApiTokens
    sessions: Sessions
    audit: AuditLog


class RbacManager:
    """Long-lived state of the rbac-manager: keys, hasher, audit log."""

    def __init__(
        self,
        codec: JwtCodec,
        bus: EventBus,
        access_ttl: int,
        auth_settings: AuthSettings | None = None,
    ) -> None:
        self.hashing = PasswordHashing((auth_settings or AuthSettings()).password_hashing)
        self.audit = AuditLog(bus)
        # Live subscriptions hear of rights changes here (on every replica).
        self.access = AccessChanges(bus)
        self.authenticator = Authenticator(
            codec, self.hashing, self.audit, access_ttl, auth_settings, self.access
        )

    def session(self, principal: Principal) -> RbacSession:
        authz = Authorizer(principal)
        return RbacSession(
            principal=principal,
            authz=authz,
            auth=self.authenticator,
            users=UserAdmin(authz, self.hashing, self.audit, self.access),
            projects=ProjectService(authz, self.audit, self.access),
            roles=RoleAdmin(authz, self.audit, self.access),
            api_tokens=ApiTokens(authz, self.audit, self.access),
            sessions=Sessions(authz, self.audit, self.access),
            audit=self.audit,
        )
