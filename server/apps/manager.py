"""The apps room's entry point: its services, bound to one caller."""

from __future__ import annotations

from dataclasses import dataclass

from home_idp.server.apps.dockerfiles import DockerfileService
from home_idp.server.apps.files import AppFileService
from home_idp.server.apps.project_variables import ProjectVariableService
from home_idp.server.apps.service import AppService
from home_idp.server.apps.source_credentials import SourceCredentialService
from home_idp.server.apps.source_hosts import SourceHostPolicy
from home_idp.server.apps.source_reader import SourceReader
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.secret_box import SecretBox

__all__ = ["AppsManager", "AppsSession"]


@dataclass(frozen=True)
class AppsSession:
    """The apps services bound to one principal (one request or subscription)."""

    apps: AppService
    source_credentials: SourceCredentialService
    app_files: AppFileService
    project_variables: ProjectVariableService
    dockerfiles: DockerfileService


class AppsManager:
    """Long-lived state of the apps room: the key for secrets, the source host policy
    and how source repositories are read."""

    def __init__(
        self, secret_box: SecretBox, source_hosts: SourceHostPolicy, source: SourceReader
    ) -> None:
        self.secret_box = secret_box
        self.source_hosts = source_hosts
        self.source = source

    def session(self, authz: Authorizer, audit: AuditLog) -> AppsSession:
        apps = AppService(authz, audit, self.secret_box, self.source_hosts, self.source)
        return AppsSession(
            apps=apps,
            source_credentials=SourceCredentialService(authz, audit, self.secret_box, apps),
            app_files=AppFileService(authz, audit, apps),
            project_variables=ProjectVariableService(authz, audit, self.secret_box),
            dockerfiles=DockerfileService(authz),
        )
