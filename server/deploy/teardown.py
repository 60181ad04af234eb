"""Tearing apps down: their folder leaves the platform repo, what runs them stops, then
their rows go; a project goes once its apps have.

Each step is safe to repeat and the rows go last, so a teardown that failed half
way (the cluster away, the git server down) leaves the app listed, and deleting
it again finishes the job instead of leaving an app running that nobody can see.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from home_idp.plugins.deployer.contract import DeployerPlugin, DeployError
from home_idp.plugins.git.contract import CommitAuthor, GitError, GitPlugin
from home_idp.server.apps.models import App
from home_idp.server.apps.service import AppService
from home_idp.server.deploy.manifests import MANIFEST_FILES
from home_idp.server.deploy.platform_repo import app_path
from home_idp.server.errors import Conflict
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.rbac.models import Project
from home_idp.server.rbac.projects import ProjectService

__all__ = ["Teardown", "app_files"]

log = logging.getLogger(__name__)


def app_files(project: str, app: str) -> list[str]:
    """Every file home-idp keeps in the app's folder of the platform repo."""
    return [
        app_path(project, app, "Dockerfile"),
        *(app_path(project, app, "manifests", name) for name in MANIFEST_FILES),
    ]


async def _refuse_running(apps: list[App]) -> None:
    """A running release could still sync or commit manifests after the teardown (a
    cancelled step finishes what it is doing), and bring the app back: refuse."""
    running = (
        await Release.filter(app_id__in=[app.id for app in apps], status=ReleaseStatus.RUNNING)
        .order_by("app_id", "number")
        .prefetch_related("app")
    )
    if running:
        names = ", ".join(f"{r.app.name} #{r.number}" for r in running)
        raise Conflict(
            f"releases are running ({names[:300]}); cancel them or wait for them to end, "
            "then delete again"
        )


def _nothing_released_since(
    last_release: int, started: datetime
) -> Callable[[App], Awaitable[None]]:
    """A check, made as the app's rows go, that no release ran during its teardown:
    one that did may have put the app back, so the rows stay to delete it again."""

    async def check(app: App) -> None:
        since = (
            Q(status=ReleaseStatus.RUNNING) | Q(id__gt=last_release) | Q(finished_at__gte=started)
        )
        if await Release.filter(since, app_id=app.id).exists():
            raise Conflict(
                f"a release of {app.project.name}/{app.name} ran while it was being "
                "deleted; delete it again"
            )

    return check


@dataclass(frozen=True)
class Teardown:
    """Deletes apps and projects together with what runs them and their files in git."""

    authz: Authorizer
    apps: AppService
    projects: ProjectService
    deployer: DeployerPlugin
    git: GitPlugin

    async def delete_app(self, app_id: int) -> App:
        """Undeploy the app, remove its folder from the platform repo in one commit and
        delete its rows; Conflict (nothing deleted) while a release of it runs."""
        app = await self.apps.get(app_id, "delete")
        self.authz.require_write()
        await _refuse_running([app])
        return await self._tear_down(app)

    async def delete_project(self, project_id: int, *, delete_apps: bool) -> tuple[str, list[str]]:
        """Delete the project, and first its apps when `delete_apps`; without it a project
        with apps is a Conflict naming them. Returns the project's and the apps' names."""
        project = await self.projects.get(project_id, "delete")
        self.authz.require_write()
        apps = await App.filter(project_id=project.id).order_by("name").prefetch_related("project")
        if apps and not delete_apps:
            names = ", ".join(app.name for app in apps)
            raise Conflict(
                f"project {project.name!r} has apps: {names[:300]}; delete them first, "
                "or delete the project with its apps"
            )
        for app in apps:
            # Rights to the project's apps are checked before anything stops.
            await self.apps.get(app.id, "delete")
        await _refuse_running(apps)
        deleted = [(await self._tear_down(app)).name for app in apps]
        name = await self.projects.delete(project.id, in_use=_app_names)
        return name, deleted

    async def _tear_down(self, app: App) -> App:
        project = app.project.name
        newest = await Release.filter(app_id=app.id).order_by("-id").only("id").first()
        started = utcnow()
        log.info("tearing down %s/%s", project, app.name)
        # The files go first: Argo CD in project mode prunes what left the repo.
        commit = await self._remove_files(project, app.name)
        try:
            await self.deployer.undeploy(project, app.name)
        except DeployError as error:
            raise Conflict(
                f"{project}/{app.name} could not be undeployed ({error}); it is kept, "
                "delete it again to finish"
            ) from None
        deleted = await self.apps.delete(
            app.id, check=_nothing_released_since(newest.id if newest else 0, started)
        )
        log.info("deleted %s/%s (removal commit %s)", project, app.name, commit or "none")
        return deleted

    async def _remove_files(self, project: str, app: str) -> str | None:
        """Delete the app's folder in one commit; the commit's sha, or None when the
        folder was gone already (a teardown repeated after this step)."""
        try:
            head = await self.git.head()
            if head is None:
                return None
            present = [
                path
                for path in app_files(project, app)
                if await self.git.read_file(path, head) is not None
            ]
            if not present:
                return None
            username = self.authz.require_write().username
            author = CommitAuthor(username, f"{username}@users.home-idp")
            result = await self.git.commit_files(
                dict.fromkeys(present),
                author,
                f"{project}/{app}: remove the app\n\nDeleted by {username}.\n",
            )
        except GitError as error:
            raise Conflict(
                f"the files of {project}/{app} could not be removed from the platform repo "
                f"({error}); nothing was deleted, try again"
            ) from None
        return result.sha if result.changed else None


async def _app_names(project: Project) -> list[str]:
    apps = await App.filter(project_id=project.id).order_by("name").only("name")
    return [app.name for app in apps]
