"""One app as tabs: Dockerfile, releases, settings, config files, environment,
live logs and the objects that run it.

The Logs and Resources tabs talk to the running app; they do so only while
shown (`live` and the tab active), so a hidden tab holds no log stream open.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static, TabbedContent, TabPane

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import FormDialog, FormField, TextViewDialog, VersionsDialog
from home_idp.tui.widgets.app_env import AppEnv
from home_idp.tui.widgets.app_files import AppFiles
from home_idp.tui.widgets.app_logs import AppLogs
from home_idp.tui.widgets.app_resources import AppResources
from home_idp.tui.widgets.app_settings import AppSettings
from home_idp.tui.widgets.dockerfile_editor import DockerfileEditor
from home_idp.tui.widgets.formatting import safe_text
from home_idp.tui.widgets.project_tree import AppNode
from home_idp.tui.widgets.releases_table import ReleasesTable

__all__ = ["AppView"]

# Viewers get a read-only editor. Any other role may try: the server has the
# last word (a custom role without the right gets its typed refusal).
_READ_ONLY_ROLES = {"viewer"}
_POD_DELETERS = {"maintainer", "admin"}
# What takes the keys when one of the newer tabs opens.
_TAB_FOCUS = {
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
    details: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="app-title")
        with TabbedContent(id="app-tabs"):
            with TabPane("Dockerfile", id="tab-dockerfile"):
                yield DockerfileEditor(id="editor")
            with TabPane("Releases", id="tab-releases"):
                yield ReleasesTable(id="releases")
            with TabPane("Settings", id="tab-settings"):
                yield AppSettings(id="settings")
            with TabPane("Files", id="tab-files"):
                yield AppFiles(id="files")
            with TabPane("Env", id="tab-env"):
                yield AppEnv(id="env")
            with TabPane("Logs", id="tab-logs"):
                yield AppLogs(id="logs")
            with TabPane("Resources", id="tab-resources"):
                yield AppResources(id="resources")

    def watch_app_node(self, app: AppNode | None) -> None:
        if app is not None:
            self._show_title(dirty=False)
            self.query_one(ReleasesTable).app_id = app.id
            # Another app: what was typed for the last one must not be saved here.
            self.details = None
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
        if tab in _TAB_FOCUS:
            self.query_one(_TAB_FOCUS[tab]).focus()

    def _show_title(self, dirty: bool) -> None:
        if self.app_node is not None:
            title = safe_text(f"{self.app_node.project.name} / {self.app_node.name}", "bold")
            if dirty:
                title.append("  (Dockerfile modified, not saved)", "italic yellow")
            self.query_one("#app-title", Static).update(title)

    @on(DockerfileEditor.Changed)
    def dockerfile_changed(self, event: DockerfileEditor.Changed) -> None:
        self._show_title(event.dirty)

    def reload(self) -> None:
        self.load_app()
        self.load_config()
        self.query_one(ReleasesTable).reload()

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @work(exclusive=True, group="app", exit_on_error=False)
    async def load_app(self) -> None:
        if self.app_node is None:
            return
        home = home_of(self)
        with home.reporting():
            details = (await home.gateway.execute("AppDetail", id=self.app_node.id))["node"]
            if details is None:
                self.notify("This app is gone.", severity="warning")
                return
            self.show_details(details)

    def show_details(self, details: dict[str, Any]) -> None:
        if self.app_node is None or details["id"] != self.app_node.id:
            return  # an answer about the app shown before
        self.details = details
        editor = self.query_one(DockerfileEditor)
        dockerfile = details.get("dockerfile") or {}
        if not editor.is_dirty:
            editor.load(
                str(dockerfile.get("content", "")),
                list(dockerfile.get("lintFindings", [])),
                dockerfile.get("number"),
            )
        self._apply_role(details["project"].get("myRole"))
        self.query_one(AppSettings).show(details)

    def _apply_role(self, role: str | None) -> None:
        admin = home_of(self).is_admin
        read_only = not admin and (role is None or role in _READ_ONLY_ROLES)
        self.query_one(DockerfileEditor).read_only = read_only
        self.query_one(AppFiles).read_only = read_only
        self.query_one(AppEnv).read_only = read_only
        self.query_one(AppResources).may_delete_pods = admin or role in _POD_DELETERS
        for widget in (AppFiles, AppEnv, AppResources):
            self.query_one(widget).refresh_bindings()

    @on(AppSettings.Saved)
    def settings_saved(self, event: AppSettings.Saved) -> None:
        self.show_details(event.details)
        self.load_config()  # the Env tab lists the app's own variables too

    @work(exclusive=True, group="config", exit_on_error=False)
    async def load_config(self) -> None:
        if self.app_node is None:
            return
        home = home_of(self)
        with home.reporting():
            config = (await home.gateway.execute("AppConfig", id=self.app_node.id))["node"]
            if config is not None:
                self.show_config(config)

    @on(AppFiles.Changed)
    @on(AppEnv.Changed)
    def config_changed(self, event: AppFiles.Changed | AppEnv.Changed) -> None:
        self.show_config(event.config)

    def show_config(self, config: dict[str, Any]) -> None:
        if self.app_node is None or config["id"] != self.app_node.id:
            return  # an answer about the app shown before
        self._apply_role(config["project"].get("myRole"))
        self.query_one(AppFiles).show(config)
        self.query_one(AppEnv).show(config)

    @on(DockerfileEditor.SaveRequested)
    def save_requested(self, event: DockerfileEditor.SaveRequested) -> None:
        app = self.app_node
        if app is None:
            return
        content = event.content

        async def save(values: dict[str, Any]) -> Any:
            return await home_of(self).gateway.mutate(
                "SaveDockerfile",
                input={"app": app.id, "content": content, "message": values["message"]},
            )

        dialog = FormDialog(
            "Save the Dockerfile and release it",
            [FormField("message", "What changed?", placeholder="Bump the base image")],
            save,
            "Save and release",
        )
        self.app.push_screen(dialog, self._saved)

    def _saved(self, result: dict[str, Any] | None) -> None:
        if not result:
            return
        version = result["dockerfileVersion"]
        release = result["release"]
        self.query_one(DockerfileEditor).load(
            str(version["content"]), list(version["lintFindings"]), version["number"]
        )
        findings = len(version["lintFindings"])
        note = f" with {findings} lint warning(s)" if findings else ""
        self.notify(
            f"Saved v{version['number']}{note}; release #{release['number']} started.",
            markup=False,
        )
        self.query_one(ReleasesTable).open_release(str(release["id"]))

    @work(exclusive=True, group="history", exit_on_error=False)
    async def show_history(self) -> None:
        app, details = self.app_node, self.details
        if app is None or details is None:
            return
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("DockerfileVersions", id=app.id)
            versions = [e["node"] for e in data["node"]["dockerfileVersions"]["edges"]]
            if not versions:
                self.notify("No saved versions yet.")
                return
            chosen = await self.app.push_screen_wait(VersionsDialog(versions))
            current = (details.get("dockerfile") or {}).get("id")
            if chosen is None or current is None:
                return
            diff = await home.gateway.execute(
                "DockerfileDiff", **{"from": chosen["id"], "to": current}
            )
            await self.app.push_screen_wait(
                TextViewDialog(
                    f"v{chosen['number']} → current", str(diff["dockerfileDiff"]), "diff"
                )
            )
