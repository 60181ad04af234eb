"""The main screen: projects and apps in a sidebar, the chosen app (or project) beside it.

The screen moves between projects and apps; the server work its panes ask
for is answered by its base, `DashboardRequests`.
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer, Header, Static

from home_idp.tui.context import AppTarget
from home_idp.tui.dialogs import FormDialog, FormField, FormValues
from home_idp.tui.results import (
    APP_RELEASES,
    CREATE_APP,
    CREATE_PROJECT,
    ME,
    PROJECT_APPS,
    PROJECTS,
    AppResult,
    CreateProjectResult,
)
from home_idp.tui.screens.dashboard_teardown import DashboardTeardown
from home_idp.tui.screens.release import ReleaseScreen
from home_idp.tui.widgets.app_view import APP_TABS, AppView
from home_idp.tui.widgets.dockerfile_editor import DockerfileEditor
from home_idp.tui.widgets.offline_banner import OfflineBanner
from home_idp.tui.widgets.project_tree import AppNode, ProjectNode, ProjectTree
from home_idp.tui.widgets.project_view import ProjectVariables, ProjectView
from home_idp.tui.widgets.releases_table import ReleasesTable

__all__ = ["DashboardScreen"]

WELCOME = """[b]Welcome to home-idp[/b]

Pick an app or a project in the sidebar, or:
  [b]n[/b]  create a project
  [b]a[/b]  create an app in the highlighted project
  [b]ctrl+p[/b]  every command
  [b]ctrl+b[/b]  hide the sidebar
  [b]f2[/b]  traces      [b]f3[/b]  admin (administrators)
"""


class DashboardScreen(DashboardTeardown):
    """Where a developer lives: the sidebar and one app's tabs."""

    BINDINGS = [
        Binding("n", "new_project", "New project"),
        Binding("a", "new_app", "New app"),
        # Off the footer (which does not wrap at 80 columns), still in the palette.
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False),
        # Alt+digit: the editor keeps the function keys (F6 selects a line, F7 all).
        # The tabs show their names already, so these stay out of the footer.
        # Before the focused widget: a terminal's Alt-2 comes with the character
        # "2", which the editor and inputs would type.
        *(
            Binding(
                f"alt+{number}", f"app_tab('{pane}')", f"{title} tab", show=False, priority=True
            )
            for number, (pane, title, _widget, _widget_id) in enumerate(APP_TABS, start=1)
        ),
        Binding("ctrl+g", "history", "Versions"),
        # Not ctrl+d: the editor and every input take it (delete to the right).
        Binding("f5", "deploy", "Deploy now"),
        # The highlighted app or project; off the footer, in the palette.
        Binding("delete", "delete_app", "Delete app", show=False),
        Binding("shift+delete", "delete_project", "Delete project", show=False),
    ]
    # Below 100 columns the sidebar and the app's tabs get tighter (see app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, open_app: AppTarget | None = None) -> None:
        super().__init__()
        self.open_app = open_app

    def compose(self) -> ComposeResult:
        yield Header()
        yield OfflineBanner(id="offline")
        with Horizontal():
            yield ProjectTree(id="sidebar")
            with ContentSwitcher(initial="welcome", id="main"):
                yield Static(WELCOME, id="welcome")
                yield AppView(id="app-view")
                yield ProjectView(id="project-view")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.load_projects()
        current = self.query_one(ContentSwitcher).current
        if current == "app-view":
            self.query_one(AppView).reload()
        elif current == "project-view":
            self.query_one(ProjectVariables).reload()

    def action_reload(self) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The app's keys only mean something while an app is open.
        if action in {"app_tab", "history", "deploy"}:
            return self.query_one(ContentSwitcher).current == "app-view"
        return True

    def action_app_tab(self, tab: str) -> None:
        self.query_one(AppView).show_tab(tab)

    def action_history(self) -> None:
        self.show_history()

    def action_deploy(self) -> None:
        """Build the newest commit of the open app's branch with its current Dockerfile."""
        app = self.query_one(AppView).app_node
        if app is not None:
            self.deploy_now(app.id)

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one(ProjectTree)
        sidebar.display = not sidebar.display

    @work(exclusive=True, group="projects", exit_on_error=False)
    async def load_projects(self) -> None:
        gateway = self.home.gateway
        with self.home.reporting():
            me = (await gateway.execute(ME))["me"]
            self.home.is_admin = me["isAdmin"]
            self.query_one(AppView).is_admin = self.query_one(ProjectView).is_admin = me["isAdmin"]
            self.sub_title = f"{me['username']} @ {gateway.server_url}"
            edges = (await gateway.execute(PROJECTS))["projects"]["edges"]
            projects = [
                ProjectNode(e["node"]["id"], e["node"]["name"], e["node"]["myRole"]) for e in edges
            ]
            app_lists = await asyncio.gather(
                *(gateway.execute(PROJECT_APPS, project=p.id) for p in projects)
            )
            tree = self.query_one(ProjectTree)
            tree.fill(
                [
                    (project, [e["node"] for e in apps["apps"]["edges"]])
                    for project, apps in zip(projects, app_lists, strict=True)
                ]
            )
            if self.open_app is not None:
                chosen = tree.select_app(*self.open_app)
                self.open_app = None
                if chosen is not None:
                    self.show_app(chosen)
                    await self._open_running_release(chosen)

    async def _open_running_release(self, app: AppNode) -> None:
        """Opened on an app (`home-idp tui --app`, the demo): show its release in progress."""
        node = (await self.home.gateway.execute(APP_RELEASES, id=app.id))["node"]
        edges = node["releases"]["edges"] if node else []
        if edges and edges[0]["node"]["status"] == "RUNNING":
            self.app.push_screen(ReleaseScreen(edges[0]["node"]["id"]))

    @on(ReleasesTable.ReleaseChosen)
    def release_chosen(self, event: ReleasesTable.ReleaseChosen) -> None:
        self.app.push_screen(ReleaseScreen(event.release_id))

    @on(ProjectTree.AppChosen)
    def app_chosen(self, event: ProjectTree.AppChosen) -> None:
        self.show_app(event.app_node)
        # Opening an app is mostly to edit it: the editor takes the keys (shift+tab goes back).
        self.query_one(AppView).query_one(DockerfileEditor).text_area.focus()

    def show_app(self, app: AppNode) -> None:
        self.query_one(ContentSwitcher).current = "app-view"
        view = self.query_one(AppView)
        view.app_node = app
        view.live = True
        self.refresh_bindings()

    @on(ProjectTree.ProjectChosen)
    def project_chosen(self, event: ProjectTree.ProjectChosen) -> None:
        self.query_one(AppView).live = False
        self.query_one(ContentSwitcher).current = "project-view"
        self.query_one(ProjectView).project_node = event.project_node
        # The pane's keys (n, s, e, d) belong to its table (shift+tab goes back).
        self.query_one("#variables-table").focus()
        self.refresh_bindings()

    def on_screen_suspend(self) -> None:
        # A dialog or the command palette above keeps logs flowing; another screen stops them.
        if not isinstance(self.app.screen, ModalScreen):
            self.query_one(AppView).live = False

    def on_screen_resume(self) -> None:
        self.query_one(AppView).live = self.query_one(ContentSwitcher).current == "app-view"

    def action_new_project(self) -> None:
        async def create(values: FormValues) -> CreateProjectResult:
            return await self.home.gateway.mutate(CREATE_PROJECT, input=values)

        dialog = FormDialog(
            "New project",
            [
                FormField("name", "Name (lowercase letters, digits and -)", placeholder="shop"),
                FormField("description", "Description"),
            ],
            create,
            "Create",
        )
        self.app.push_screen(dialog, self._project_created)

    def action_new_app(self) -> None:
        project = self.query_one(ProjectTree).current_project
        if project is None:
            self.notify("Highlight a project in the sidebar first.", severity="warning")
            return

        async def create(values: FormValues) -> AppResult:
            return await self.home.gateway.mutate(
                CREATE_APP, input={"project": project.id, **values}
            )

        dialog = FormDialog(
            f"New app in {project.name}",
            [
                FormField("name", "Name", placeholder="web"),
                FormField("sourceRepo", "Source repository (git URL)"),
                FormField("sourceRef", "Branch or tag", value="main"),
                FormField("port", "Port", value="8080", integer=True),
            ],
            create,
            "Create",
        )
        self.app.push_screen(dialog, self._app_created)

    def _project_created(self, result: CreateProjectResult | None) -> None:
        if result:
            self._created(f"project {result['project']['name']}")

    def _app_created(self, result: AppResult | None) -> None:
        if result:
            self._created(f"app {result['app']['name']}")

    def _created(self, what: str) -> None:
        self.notify(f"Created {what}.", markup=False)
        self.load_projects()
