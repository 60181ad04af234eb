"""One app as tabs: Dockerfile, releases, settings, config files, environment,
live logs and the objects that run it.

The Logs and Resources tabs talk to the running app; they do so only while
shown (`live` and the tab active), so a hidden tab holds no log stream open.
The view asks its screen for the app's details and config (`Stale`,
`ConfigStale`) and shows what it is handed (`show_details`, `show_config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from home_idp.tui.results import (
    AppConfig,
    AppDetail,
    RollbackRelease,
    SaveDockerfileResult,
)
from home_idp.tui.widgets.app_env import AppEnv
from home_idp.tui.widgets.app_files import AppFiles
from home_idp.tui.widgets.app_logs import AppLogs
from home_idp.tui.widgets.app_resources import AppResources
from home_idp.tui.widgets.app_settings import AppSettings
from home_idp.tui.widgets.dockerfile_editor import DockerfileEditor
from home_idp.tui.widgets.focus_tabs import FocusTabs
from home_idp.tui.widgets.formatting import safe_text
from home_idp.tui.widgets.project_tree import AppNode
from home_idp.tui.widgets.releases_table import ReleasesTable

__all__ = ["APP_TABS", "AppView"]

# Viewers get a read-only editor. Any other role may try: the server has the
# last word (a custom role without the right gets its typed refusal).
_READ_ONLY_ROLES = {"viewer"}
_POD_DELETERS = {"maintainer", "admin"}
APP_TABS: list[tuple[str, str, type[Widget], str]] = [
    ("tab-dockerfile", "Dockerfile", DockerfileEditor, "editor"),
    ("tab-releases", "Releases", ReleasesTable, "releases"),
    ("tab-settings", "Settings", AppSettings, "settings"),
    ("tab-files", "Files", AppFiles, "files"),
    ("tab-env", "Env", AppEnv, "env"),
    ("tab-logs", "Logs", AppLogs, "logs"),
    ("tab-resources", "Resources", AppResources, "resources"),
]
"""(pane id, title, widget class, widget id) of each tab, in order; on the dashboard
alt+1, alt+2, ... open them."""
# What takes the keys when one of the newer tabs opens.
# Where the focus goes when a tab opens. Every tab has one: a focus left
# behind in the hidden pane (the editor's) makes the tabs open that pane again.
_TAB_FOCUS = {
    "tab-dockerfile": "#editor TextArea",
    "tab-releases": "#releases",
    "tab-settings": "#settings Input",
    "tab-files": "#files-table",
    "tab-env": "#env-table",
    "tab-logs": "#app-log LogLines",
    "tab-resources": "#resources-table",
}


class AppView(Vertical):
    """Set `app_node` and the tabs load that app; saving starts a release.

    Its keys live on the dashboard screen, so they work wherever the focus is.
    """

    app_node: reactive[AppNode | None] = reactive(None, init=False)
    live: reactive[bool] = reactive(False, init=False)
    """Whether the view is on screen: the Logs and Resources tabs follow the app only then."""
    details: AppDetail | None = None
    is_admin = False
    """Whether the user is an administrator, who may change any app."""

    @dataclass
    class Stale(Message):
        """The details and config of app `app_id` are to be fetched (again)."""

        app_id: str

    @dataclass
    class ConfigStale(Message):
        """The config (files, environment) of app `app_id` is to be fetched (again)."""

        app_id: str

    def compose(self) -> ComposeResult:
        yield Static("", id="app-title")
        with FocusTabs(id="app-tabs"):
            for pane, title, widget, widget_id in APP_TABS:
                with TabPane(title, id=pane):
                    yield widget(id=widget_id)

    def watch_app_node(self, app: AppNode | None) -> None:
        if app is not None:
            # Another app: what was typed for the last one must not be saved here.
            self.details = None
            self._show_title(dirty=False)
            self.query_one(ReleasesTable).app_id = app.id
            self.query_one(DockerfileEditor).load("", [], None)
            self.reload()
        self._update_live()

    def watch_live(self) -> None:
        self._update_live()

    def _update_live(self) -> None:
        """Follow the app in the Logs or Resources tab if shown; stop whatever is hidden."""
        app = self.app_node
        active = self.query_one("#app-tabs", TabbedContent).active if self.live else ""
        logs, resources = self.query_one(AppLogs), self.query_one(AppResources)
        if app is not None and active == "tab-logs":
            logs.follow_app(app.id)
        else:
            logs.stop()
        if app is not None and active == "tab-resources":
            resources.watch_app(app.id)
        else:
            resources.stop()

    @on(TabbedContent.TabActivated, "#app-tabs")
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        self._update_live()
        if tab in {"tab-files", "tab-env"}:
            self.load_config()  # project variables may have changed meanwhile
        # Not while no app is shown: the first tab opens as the view is made.
        if tab in _TAB_FOCUS and self.app_node is not None:
            self.query_one(_TAB_FOCUS[tab]).focus()

    def _show_title(self, dirty: bool) -> None:
        if self.app_node is not None:
            title = safe_text(f"{self.app_node.project.name} / {self.app_node.name}", "bold")
            url = self.details["url"] if self.details is not None else None
            if url:
                # Where the app answers: one address across releases, where the server gives one.
                title.append_text(safe_text(f"  {url}", "dim"))
            if dirty:
                title.append("  (Dockerfile modified, not saved)", "italic yellow")
            self.query_one("#app-title", Static).update(title)

    @on(DockerfileEditor.Changed)
    def dockerfile_changed(self, event: DockerfileEditor.Changed) -> None:
        self._show_title(event.dirty)

    def reload(self) -> None:
        if self.app_node is not None:
            # Sent as from the view itself, so it bubbles to the screen whoever calls.
            self.post_message(self.Stale(self.app_node.id).set_sender(self))
        self.query_one(ReleasesTable).reload()

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show_details(self, details: AppDetail) -> None:
        if self.app_node is None or details["id"] != self.app_node.id:
            return  # an answer about the app shown before
        self.details = details
        editor = self.query_one(DockerfileEditor)
        self._show_title(editor.is_dirty)
        dockerfile = details["dockerfile"]
        if not editor.is_dirty:
            if dockerfile is None:
                editor.load("", [], None)
            else:
                editor.load(dockerfile["content"], dockerfile["lintFindings"], dockerfile["number"])
        self._apply_role(details["project"]["myRole"])
        self.query_one(AppSettings).show(details)

    def _apply_role(self, role: str | None) -> None:
        admin = self.is_admin
        read_only = not admin and (role is None or role in _READ_ONLY_ROLES)
        self.query_one(DockerfileEditor).read_only = read_only
        self.query_one(AppFiles).read_only = read_only
        self.query_one(AppEnv).read_only = read_only
        self.query_one(AppResources).may_delete_pods = admin or role in _POD_DELETERS
        for widget in (AppFiles, AppEnv, AppResources):
            self.query_one(widget).refresh_bindings()

    def settings_saved(self, details: AppDetail) -> None:
        """Show the app's details as changed in the Settings tab."""
        self.show_details(details)
        self.load_config()  # the Env tab lists the app's own variables too

    def load_config(self) -> None:
        if self.app_node is not None:
            self.post_message(self.ConfigStale(self.app_node.id).set_sender(self))

    def show_config(self, config: AppConfig) -> None:
        if self.app_node is None or config["id"] != self.app_node.id:
            return  # an answer about the app shown before
        self._apply_role(config["project"]["myRole"])
        self.query_one(AppFiles).show(config)
        self.query_one(AppEnv).show(config)

    def dockerfile_saved(self, result: SaveDockerfileResult) -> None:
        """Show a saved Dockerfile version and open the release it started."""
        version = result["dockerfileVersion"]
        release = result["release"]
        self.query_one(DockerfileEditor).load(
            version["content"], version["lintFindings"], version["number"]
        )
        findings = len(version["lintFindings"])
        note = f" with {findings} lint warning(s)" if findings else ""
        self.notify(
            f"Saved v{version['number']}{note}; release #{release['number']} started.",
            markup=False,
        )
        self.query_one(ReleasesTable).open_release(release["id"])

    def release_started(self, app_id: str, release: RollbackRelease) -> None:
        """Open a release "deploy now" started, as a saved Dockerfile opens its own."""
        self.notify(f"Release #{release['number']} started from the newest commit.")
        if self.app_node is not None and self.app_node.id == app_id:
            # Not when the user moved on to another app meanwhile.
            self.query_one(ReleasesTable).open_release(release["id"])
