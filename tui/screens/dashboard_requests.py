"""The server work the dashboard's panes ask for: they post messages, the screen
runs the queries, mutations and subscriptions and hands the answers back.

`DashboardRequests` is the part of the dashboard screen that answers the
app's tabs (releases, settings, files, environment, running objects) and the
project's variables; the dashboard screen itself does the navigation.
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.screen import Screen

from home_idp.tui.context import Home, home_of
from home_idp.tui.dialogs import (
    ConfirmDialog,
    FileDialog,
    FormDialog,
    FormField,
    FormValues,
    TextViewDialog,
    VersionsDialog,
)
from home_idp.tui.errors import ActionFailed
from home_idp.tui.results import (
    APP_CONFIG,
    APP_DETAIL,
    APP_LOGS,
    APP_RELEASES,
    APP_RESOURCES,
    DELETE_APP_FILE,
    DELETE_APP_SECRET,
    DELETE_POD,
    DELETE_PROJECT_VARIABLE,
    DELETE_SOURCE_CREDENTIAL,
    DEPLOY_APP,
    DOCKERFILE_DIFF,
    DOCKERFILE_VERSIONS,
    NEW_SOURCE_WEBHOOK_SECRET,
    PROJECT_VARIABLES,
    PUT_APP_FILE,
    RELEASE_EVENTS,
    SAVE_DOCKERFILE,
    SET_APP_SECRET,
    SET_PROJECT_VARIABLE,
    SET_SOURCE_CREDENTIAL,
    UPDATE_APP,
    UPDATE_APP_SHARED_ENV,
    AppConfigResult,
    AppDetail,
    AppDetailResult,
    ProjectConfigResult,
    SaveDockerfileResult,
)
from home_idp.tui.widgets.app_env import AppEnv
from home_idp.tui.widgets.app_files import AppFiles
from home_idp.tui.widgets.app_logs import (
    RETRY_SECONDS,
    SEPARATOR,
    TAIL_LINES,
    AppLogs,
    running_instances,
)
from home_idp.tui.widgets.app_resources import AppResources
from home_idp.tui.widgets.app_settings import AppSettings, read_deploy_key
from home_idp.tui.widgets.app_view import AppView
from home_idp.tui.widgets.dockerfile_editor import DockerfileEditor
from home_idp.tui.widgets.formatting import releases_started
from home_idp.tui.widgets.project_tree import ProjectTree
from home_idp.tui.widgets.project_view import ProjectVariables
from home_idp.tui.widgets.releases_table import ReleasesTable

__all__ = ["DashboardRequests"]


class DashboardRequests(Screen[None]):
    """Answers the messages of the dashboard's panes (the dashboard screen's base)."""

    # Whether a reload of the releases is scheduled (release events come in bursts).
    _releases_due = False
    # The last release event seen of the app followed: a subscription started
    # again (each reload starts one) resumes after it, so no event falls between.
    _release_cursor: tuple[str, str] | None = None

    @property
    def home(self) -> Home:
        return home_of(self)

    # -- the app and its Dockerfile ---------------------------------------------

    @on(AppView.Stale)
    def app_stale(self, event: AppView.Stale) -> None:
        self.load_app(event.app_id)
        self.load_config(event.app_id)

    @on(AppView.ConfigStale)
    def config_stale(self, event: AppView.ConfigStale) -> None:
        self.load_config(event.app_id)

    @work(exclusive=True, group="app", exit_on_error=False)
    async def load_app(self, app_id: str) -> None:
        with self.home.reporting():
            details = (await self.home.gateway.execute(APP_DETAIL, id=app_id))["node"]
            if details is None:
                self.notify("This app is gone.", severity="warning")
                return
            self.query_one(AppView).show_details(details)

    @work(exclusive=True, group="config", exit_on_error=False)
    async def load_config(self, app_id: str) -> None:
        with self.home.reporting():
            config = (await self.home.gateway.execute(APP_CONFIG, id=app_id))["node"]
            if config is not None:
                self.query_one(AppView).show_config(config)

    @on(DockerfileEditor.SaveRequested)
    def save_dockerfile(self, event: DockerfileEditor.SaveRequested) -> None:
        app = self.query_one(AppView).app_node
        if app is None:
            return
        content, gateway = event.content, self.home.gateway

        async def save(values: FormValues) -> SaveDockerfileResult:
            return await gateway.mutate(
                SAVE_DOCKERFILE,
                input={"app": app.id, "content": content, "message": values["message"]},
            )

        dialog = FormDialog(
            "Save the Dockerfile and release it",
            [FormField("message", "What changed?", placeholder="Bump the base image")],
            save,
            "Save and release",
        )
        self.app.push_screen(dialog, self._dockerfile_saved)

    def _dockerfile_saved(self, result: SaveDockerfileResult | None) -> None:
        if result:
            self.query_one(AppView).dockerfile_saved(result)

    @work(exclusive=True, group="history", exit_on_error=False)
    async def show_history(self) -> None:
        """The app's Dockerfile versions; a chosen one shows its diff against the current."""
        app = self.query_one(AppView).app_node
        if app is None:
            return
        gateway = self.home.gateway
        with self.home.reporting():
            node = (await gateway.execute(DOCKERFILE_VERSIONS, id=app.id))["node"]
            versions = [e["node"] for e in node["dockerfileVersions"]["edges"]] if node else []
            if not versions:
                self.notify("No saved versions yet.")
                return
            # The current version as the server has it now, not as the app was
            # opened: saves since (here or elsewhere) made newer ones.
            current = max(versions, key=lambda version: version["number"])
            chosen = await self.app.push_screen_wait(VersionsDialog(versions))
            if chosen is None:
                return
            diff = await gateway.execute(
                DOCKERFILE_DIFF, **{"from": chosen["id"], "to": current["id"]}
            )
            title = f"v{chosen['number']} → current (v{current['number']})"
            await self.app.push_screen_wait(TextViewDialog(title, diff["dockerfileDiff"], "diff"))

    # -- the app's releases -----------------------------------------------------

    @on(ReleasesTable.Stale)
    def releases_stale(self, event: ReleasesTable.Stale) -> None:
        self.load_releases(event.app_id)
        self.follow_releases(event.app_id)

    @work(exclusive=True, group="releases", exit_on_error=False)
    async def load_releases(self, app_id: str) -> None:
        with self.home.reporting():
            node = (await self.home.gateway.execute(APP_RELEASES, id=app_id))["node"]
            table = self.query_one(ReleasesTable)
            if table.app_id == app_id:  # not an answer about the app shown before
                table.show([e["node"] for e in node["releases"]["edges"]] if node else [])
            if node is not None:
                # The sidebar's mark follows too (a new app's first release gives it one).
                self.query_one(ProjectTree).show_live(app_id, node["liveRelease"])

    @work(exclusive=True, group="release-events", exit_on_error=False)
    async def follow_releases(self, app_id: str) -> None:
        """Reload when any release of the app changes (events are the trigger, rows the truth)."""
        seen = self._release_cursor
        after = seen[1] if seen is not None and seen[0] == app_id else None
        with self.home.reporting():
            events = self.home.gateway.subscribe(RELEASE_EVENTS, appId=app_id, after=after)
            async for event in events:
                self._release_cursor = (app_id, event["cursor"])
                # Events come in bursts: the first one schedules a reload that covers them all.
                if not self._releases_due:
                    self._releases_due = True
                    self.set_timer(0.1, lambda: self._reload_releases(app_id))

    def _reload_releases(self, app_id: str) -> None:
        self._releases_due = False
        self.load_releases(app_id)

    # -- the app's settings, secrets and source credential --------------------

    @on(AppSettings.SaveWanted)
    @work(exclusive=True, group="settings", exit_on_error=False)
    async def save_settings(self, event: AppSettings.SaveWanted) -> None:
        """Save the settings, then offer to deploy with them at once."""
        app: AppDetail | None = None
        with self.home.reporting():
            try:
                result = await self.home.gateway.mutate(UPDATE_APP, input=event.changes)
            except ActionFailed as error:
                self.query_one(AppSettings).show_errors(error)
                raise
            self.notify("Settings saved; the next release uses them.")
            app = result["app"]
            self.query_one(AppView).settings_saved(app)
        if app is None or app["dockerfile"] is None:
            return  # without a Dockerfile there is nothing to build yet
        question = f"Deploy now? (the newest commit of {app['sourceRef']}, with these settings)"
        if await self.app.push_screen_wait(ConfirmDialog(question, "Deploy now")):
            self.deploy_now(app["id"])

    @work(exclusive=True, group="deploy", exit_on_error=False)
    async def deploy_now(self, app_id: str) -> None:
        """Build the newest commit of the app's branch and open the release it started."""
        with self.home.reporting():
            release = (await self.home.gateway.mutate(DEPLOY_APP, input={"app": app_id}))["release"]
            self.query_one(AppView).release_started(app_id, release)

    @on(AppSettings.WebhookSecretWanted)
    @work(exclusive=True, group="settings", exit_on_error=False)
    async def new_webhook_secret(self, event: AppSettings.WebhookSecretWanted) -> None:
        if event.replaces and not await self.app.push_screen_wait(
            ConfirmDialog(
                "Make a new webhook secret? The current one stops working at once.", "Make one"
            )
        ):
            return
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                NEW_SOURCE_WEBHOOK_SECRET, input={"app": event.app_id}
            )
            self.query_one(AppView).settings_saved(result["app"])
            url = result["app"]["sourceWebhook"]["url"]
            old = "The old secret no longer works. " if event.replaces else ""
            where = (
                f"home-idp gave both to the git host: {result['note']}.\n"
                if result["registered"]
                else f"Give both to the git host (the repository's webhook settings): "
                f"{result['note']}.\n"
            )
            text = (
                f"Secret: {result['secret']}\n"
                f"URL:    {url}\n\n"
                f"{where}{old}This is the only time the secret is shown."
            )
            await self.app.push_screen_wait(TextViewDialog("New webhook secret", text))

    @on(AppSettings.SecretWanted)
    def set_secret(self, event: AppSettings.SecretWanted) -> None:
        app_id, gateway = event.app_id, self.home.gateway

        async def submit(values: FormValues) -> AppDetailResult:
            return await gateway.mutate(SET_APP_SECRET, input={"app": app_id, **values})

        dialog = FormDialog(
            "Set a secret",
            [
                FormField("name", "Name", placeholder="DATABASE_PASSWORD"),
                FormField("value", "Value", password=True),
            ],
            submit,
            "Set",
        )
        self.app.push_screen(dialog, self._secret_changed)

    @on(AppSettings.SecretClearWanted)
    @work(exclusive=True, group="settings", exit_on_error=False)
    async def clear_secret(self, event: AppSettings.SecretClearWanted) -> None:
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                DELETE_APP_SECRET, input={"app": event.app_id, "name": event.name}
            )
            self._secret_changed(result)

    @on(AppSettings.CredentialWanted)
    def set_source_credential(self, event: AppSettings.CredentialWanted) -> None:
        app_id, gateway = event.app_id, self.home.gateway

        async def submit(values: FormValues) -> AppDetailResult:
            given: dict[str, object] = {"app": app_id, "username": values["username"] or None}
            if values["sshKeyFile"]:
                given["sshPrivateKey"] = await read_deploy_key(str(values["sshKeyFile"]))
            else:
                given["token"] = values["token"]
            return await gateway.mutate(SET_SOURCE_CREDENTIAL, input=given)

        dialog = FormDialog(
            "Source credential: a token (https) or a deploy key file (ssh)",
            [
                FormField("username", "User name (optional)"),
                FormField("token", "Token", password=True),
                FormField("sshKeyFile", "or a deploy key file", placeholder="~/.ssh/deploy_key"),
            ],
            submit,
            "Set",
        )
        self.app.push_screen(dialog, self._secret_changed)

    @on(AppSettings.CredentialClearWanted)
    @work(exclusive=True, group="settings", exit_on_error=False)
    async def clear_source_credential(self, event: AppSettings.CredentialClearWanted) -> None:
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                DELETE_SOURCE_CREDENTIAL, input={"app": event.app_id}
            )
            self._secret_changed(result)

    def _secret_changed(self, result: AppDetailResult | None) -> None:
        if result:
            self.notify("Secret saved; the next release uses it.")
            self.query_one(AppView).settings_saved(result["app"])

    # -- the app's config files, environment and running objects --------------

    @on(AppFiles.EditWanted)
    def edit_file(self, event: AppFiles.EditWanted) -> None:
        app_id, file = event.app_id, event.file
        gateway = self.home.gateway

        async def save(values: FormValues) -> AppConfigResult:
            return await gateway.mutate(PUT_APP_FILE, input={"app": app_id, **values})

        title = f"Edit {file['name']}" if file else "New config file"
        self.app.push_screen(FileDialog(title, save, file), self._file_saved)

    def _file_saved(self, result: AppConfigResult | None) -> None:
        if result:
            note = releases_started(
                result["releases"], "no app runs yet: the file is used by the next release"
            )
            self.notify(f"File saved; {note}.", markup=False)
            self.query_one(AppView).show_config(result["app"])

    @on(AppFiles.DeletionWanted)
    @work(exclusive=True, group="files", exit_on_error=False)
    async def delete_file(self, event: AppFiles.DeletionWanted) -> None:
        name = event.name
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                DELETE_APP_FILE, input={"app": event.app_id, "name": name}
            )
            note = releases_started(result["releases"], "the next release goes without it")
            self.notify(f"Deleted {name}; {note}.", markup=False)
            self.query_one(AppView).show_config(result["app"])

    @on(AppEnv.SharedEnvChosen)
    @work(exclusive=True, group="env", exit_on_error=False)
    async def use_shared_env(self, event: AppEnv.SharedEnvChosen) -> None:
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                UPDATE_APP_SHARED_ENV, input={"id": event.app_id, "sharedEnv": event.names}
            )
            self.notify(
                f"The app uses {len(event.names)} project variable(s); the next release gets them."
            )
            self.query_one(AppView).show_config(result["app"])

    @on(AppLogs.FollowWanted)
    def logs_wanted(self, event: AppLogs.FollowWanted) -> None:
        logs = self.query_one(AppLogs)
        if logs.wanted_app == event.app_id:  # not stopped meanwhile
            logs.worker = self.follow_logs(event.app_id)

    @work(exclusive=True, group="app-logs", exit_on_error=False)
    async def follow_logs(self, app_id: str) -> None:
        """Write the app's output to the Logs tab, finding its running pods again as needed."""
        logs = self.query_one(AppLogs)
        view, gateway = logs.view, self.home.gateway
        with self.home.reporting():
            while True:
                logs.status("looking for running pods…")
                found = (await gateway.execute(APP_RESOURCES, app=app_id))["appResources"]
                running = running_instances(found)
                if not running:
                    logs.status(f"not running (looking again every {RETRY_SECONDS:.0f} s)")
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                kind = "container" if running[0]["kind"] == "Container" else "pod"
                count = len(running)
                logs.status(f"following {count} {kind}{'s' if count != 1 else ''}")
                # Each stream starts with the last lines again: start from a clean view.
                view.clear()
                async for line in gateway.subscribe(
                    APP_LOGS, appId=app_id, follow=True, tailLines=TAIL_LINES
                ):
                    view.append(f"{line['source']}{SEPARATOR}{line['text']}")
                # Every stream ended: the app stopped or was replaced by a new release.
                logs.status("the app's output ended; looking again…")
                await asyncio.sleep(RETRY_SECONDS)

    @on(AppResources.Stale)
    @work(exclusive=True, group="resources", exit_on_error=False)
    async def load_resources(self, event: AppResources.Stale) -> None:
        with self.home.reporting():
            found = (await self.home.gateway.execute(APP_RESOURCES, app=event.app_id))[
                "appResources"
            ]
            tab = self.query_one(AppResources)
            if event.app_id == tab.app_id:
                tab.show(found)

    @on(AppResources.PodDeletionWanted)
    @work(exclusive=True, group="delete-pod", exit_on_error=False)
    async def delete_pod(self, event: AppResources.PodDeletionWanted) -> None:
        with self.home.reporting():
            await self.home.gateway.mutate(
                DELETE_POD, input={"app": event.app_id, "name": event.name}
            )
            self.notify(f"Deleted {event.name}; a new one starts.", markup=False)
            self.query_one(AppResources).reload()

    # -- project variables --------------------------------------------------------

    @on(ProjectVariables.Stale)
    @work(exclusive=True, group="variables", exit_on_error=False)
    async def load_variables(self, event: ProjectVariables.Stale) -> None:
        with self.home.reporting():
            node = (await self.home.gateway.execute(PROJECT_VARIABLES, id=event.project_id))["node"]
            tab = self.query_one(ProjectVariables)
            if node is None:
                self.notify("This project is gone.", severity="warning")
            elif event.project_id == tab.project_id:
                tab.show(node)

    @on(ProjectVariables.EditWanted)
    def edit_variable(self, event: ProjectVariables.EditWanted) -> None:
        project_id, name, secret = event.project_id, event.name, event.secret
        gateway = self.home.gateway

        async def submit(values: FormValues) -> ProjectConfigResult:
            return await gateway.mutate(
                SET_PROJECT_VARIABLE,
                input={
                    "project": project_id,
                    "name": name if name is not None else values["name"],
                    "value": values["value"],
                    "isSecret": secret,
                },
            )

        example = "DB_PASSWORD" if secret else "LOG_LEVEL"
        fields = [] if name is not None else [FormField("name", "Name", placeholder=example)]
        fields.append(
            FormField(
                "value",
                "Value (typed, never shown again)" if secret else "Value",
                # A secret's value never comes back, so there is nothing to fill in.
                value="" if secret or event.value is None else event.value,
                password=secret,
            )
        )
        self.app.push_screen(FormDialog(event.title, fields, submit, "Save"), self._variable_saved)

    def _variable_saved(self, result: ProjectConfigResult | None) -> None:
        if result:
            self.query_one(ProjectVariables).changed(result)

    @on(ProjectVariables.DeleteWanted)
    @work(exclusive=True, group="variables-action", exit_on_error=False)
    async def delete_variable(self, event: ProjectVariables.DeleteWanted) -> None:
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                DELETE_PROJECT_VARIABLE, input={"project": event.project_id, "name": event.name}
            )
            self.notify(f"Deleted {event.name}.", markup=False)
            self.query_one(ProjectVariables).show(result["project"])
