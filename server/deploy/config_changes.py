"""Config changes that reach running apps: files and shared variables start config-only releases.

A changed config file or project variable means new manifests (and, for a
secret, a new Secret) but the same image: each app that uses it gets a
release that skips the build and rolls out the digest that runs now.
"""

from __future__ import annotations

from dataclasses import dataclass

from home_idp.server.apps.files import AppFileService
from home_idp.server.apps.models import App
from home_idp.server.apps.project_variables import ProjectVariableService, apps_using
from home_idp.server.deploy.releases import ReleaseService
from home_idp.server.pipeline.models import Release
from home_idp.server.rbac.models import Project

__all__ = ["AppChange", "ConfigChanges", "ProjectChange"]


@dataclass(frozen=True)
class AppChange:
    app: App
    releases: list[Release]


@dataclass(frozen=True)
class ProjectChange:
    project: Project
    releases: list[Release]


@dataclass(frozen=True)
class ConfigChanges:
    """Changes an app's files or a project's variables, then redeploys whoever uses them."""

    files: AppFileService
    variables: ProjectVariableService
    releases: ReleaseService

    async def put_file(self, app_id: int, name: str, mount_path: str, content: str) -> AppChange:
        app, changed = await self.files.put(app_id, name, mount_path, content)
        return await self._redeployed(app, changed, f"file {name}")

    async def delete_file(self, app_id: int, name: str) -> AppChange:
        app = await self.files.delete(app_id, name)
        return await self._redeployed(app, True, f"file {name} deleted")

    async def set_variable(
        self, project_id: int, name: str, value: str, *, secret: bool
    ) -> ProjectChange:
        project, changed = await self.variables.set(project_id, name, value, secret=secret)
        if not changed:
            return ProjectChange(project, [])
        users = await apps_using(project.id, name)
        for app in users:
            app.project = project
        return ProjectChange(project, await self.releases.redeploy_config(users, name))

    async def delete_variable(self, project_id: int, name: str) -> ProjectChange:
        # Refused while an app uses it, so no app's config changes.
        project = await self.variables.delete(project_id, name)
        return ProjectChange(project, [])

    async def _redeployed(self, app: App, changed: bool, change: str) -> AppChange:
        if not changed:
            return AppChange(app, [])
        await app.refresh_from_db(fields=["live_release_id"])
        return AppChange(app, await self.releases.redeploy_config([app], change))
