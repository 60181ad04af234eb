"""Deleting apps and projects from the dashboard, each after a question.

Deleting tears down: the server stops what runs the app and removes its folder
from the platform repo, so the question says so. A project's apps go with it
only when the user agrees to that in the same question.
"""

from __future__ import annotations

from textual import work
from textual.widgets import ContentSwitcher

from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.results import DELETE_APP, DELETE_PROJECT
from home_idp.tui.screens.dashboard_requests import DashboardRequests
from home_idp.tui.widgets.app_view import AppView
from home_idp.tui.widgets.project_tree import AppNode, ProjectNode, ProjectTree
from home_idp.tui.widgets.project_view import ProjectView

__all__ = ["DashboardTeardown", "app_question", "project_question"]


def app_question(app: AppNode) -> str:
    return (
        f"Delete {app.project.name}/{app.name}? Its containers stop and its manifests "
        "are removed from git."
    )


def project_question(project: ProjectNode, apps: list[AppNode]) -> str:
    if not apps:
        return f"Delete the project {project.name}?"
    names = ", ".join(app.name for app in apps)
    return (
        f"Delete the project {project.name} and its apps ({names})? Their containers "
        "stop and their manifests are removed from git."
    )


class DashboardTeardown(DashboardRequests):
    """The dashboard's delete actions (a base of the dashboard screen)."""

    def app_to_delete(self) -> AppNode | None:
        """The app highlighted in the sidebar, else the open one."""
        highlighted = self.query_one(ProjectTree).current_app
        if highlighted is not None:
            return highlighted
        if self.query_one(ContentSwitcher).current == "app-view":
            return self.query_one(AppView).app_node
        return None

    def action_delete_app(self) -> None:
        """Delete the highlighted (or open) app, after asking."""
        app = self.app_to_delete()
        if app is None:
            self.notify("Highlight an app in the sidebar first.", severity="warning")
            return
        self.delete_app(app)

    def action_delete_project(self) -> None:
        """Delete the highlighted project (with its apps, if the user agrees), after asking."""
        project = self.query_one(ProjectTree).current_project
        if project is None:
            self.notify("Highlight a project in the sidebar first.", severity="warning")
            return
        self.delete_project(project)

    @work(exclusive=True, group="teardown", exit_on_error=False)
    async def delete_app(self, app: AppNode) -> None:
        if not await self.app.push_screen_wait(ConfirmDialog(app_question(app), "Delete")):
            return
        with self.home.reporting():
            self.notify(f"Deleting {app.project.name}/{app.name}…", markup=False)
            await self.home.gateway.mutate(DELETE_APP, input={"id": app.id})
            self.notify(f"Deleted {app.project.name}/{app.name}.", markup=False)
            self._forget_app(app.id)

    @work(exclusive=True, group="teardown", exit_on_error=False)
    async def delete_project(self, project: ProjectNode) -> None:
        apps = self.query_one(ProjectTree).apps_of(project)
        question = project_question(project, apps)
        confirm = "Delete all" if apps else "Delete"
        if not await self.app.push_screen_wait(ConfirmDialog(question, confirm)):
            return
        with self.home.reporting():
            self.notify(f"Deleting {project.name}…", markup=False)
            result = await self.home.gateway.mutate(
                DELETE_PROJECT, input={"id": project.id, "deleteApps": bool(apps)}
            )
            gone = result["deletedApps"]
            extra = f" with {', '.join(gone)}" if gone else ""
            self.notify(f"Deleted the project {result['deletedName']}{extra}.", markup=False)
            for app in apps:
                self._close_app(app.id)
            shown = self.query_one(ProjectView).project_node
            if self.query_one(ContentSwitcher).current == "project-view" and (
                shown is not None and shown.id == project.id
            ):
                self.query_one(ContentSwitcher).current = "welcome"
            self.reload()

    def _forget_app(self, app_id: str) -> None:
        self._close_app(app_id)
        self.reload()

    def _close_app(self, app_id: str) -> None:
        """Close the app if it is open: it no longer exists."""
        view = self.query_one(AppView)
        if self.query_one(ContentSwitcher).current == "app-view" and (
            view.app_node is not None and view.app_node.id == app_id
        ):
            view.live = False
            self.query_one(ContentSwitcher).current = "welcome"
            self.refresh_bindings()

    def reload(self) -> None:
        """Reload what the screen shows (the dashboard screen says what)."""
        raise NotImplementedError
