"""rbac-manager: one entry point that hands out its services per caller."""

from __future__ import annotations

from dataclasses import dataclass

from home_idp.server.events import EventBus
from home_idp.server.rbac.api_tokens import ApiTokens
from home_idp.server.rbac.app_files import AppFileService
from home_idp.server.rbac.apps import AppService
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.auth import Authenticator
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.rbac.dockerfiles import DockerfileService
from home_idp.server.rbac.passwords import PasswordHashing
from home_idp.server.rbac.principal import Principal
from home_idp.server.rbac.project_variables import ProjectVariableService
from home_idp.server.rbac.projects import ProjectService
from home_idp.server.rbac.role_admin import RoleAdmin
from home_idp.server.rbac.secret_box import SecretBox
from home_idp.server.rbac.tokens import JwtCodec
from home_idp.server.rbac.users import UserAdmin

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
    audit: AuditLog
    apps: AppService
    app_files: AppFileService
    project_variables: ProjectVariableService
    dockerfiles: DockerfileService


class RbacManager:
    """Long-lived state of the rbac-manager: keys, hasher, audit log."""

    def __init__(
        self, codec: JwtCodec, bus: EventBus, access_ttl: int, secret_box: SecretBox
    ) -> None:
        self.hashing = PasswordHashing()
        self.secret_box = secret_box
        self.audit = AuditLog(bus)
        self.authenticator = Authenticator(codec, self.hashing, self.audit, access_ttl)

    def session(self, principal: Principal) -> RbacSession:
        authz = Authorizer(principal)
        apps = AppService(authz, self.audit, self.secret_box)
        return RbacSession(
            principal=principal,
            authz=authz,
            auth=self.authenticator,
            users=UserAdmin(authz, self.hashing, self.audit),
            projects=ProjectService(authz, self.audit),
            roles=RoleAdmin(authz, self.audit),
            api_tokens=ApiTokens(authz, self.audit),
            audit=self.audit,
            apps=apps,
            app_files=AppFileService(authz, self.audit, apps),
            project_variables=ProjectVariableService(authz, self.audit, self.secret_box),
            dockerfiles=DockerfileService(authz),
        )
