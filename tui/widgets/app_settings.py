"""An app's settings: source, port, replicas, health path, env vars and secrets,
and push to deploy (auto deploy, watch paths, the source webhook).

Secrets are write-only: the table shows which are set, by whom and when,
never a value; "set" asks for the value in a password field. So is the
source credential: a token (password field) or a deploy key read from a
file on this machine, and the source webhook's secret, which only a new one
replaces (shown once). The tab posts what the user asked for; the screen
sends it and hands back the app's new details (`show`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, DataTable, Input, Label, TextArea

from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.errors import ActionFailed, FieldError
from home_idp.tui.results import AppDetail, EnvVar
from home_idp.tui.widgets.formatting import ago, safe_text

__all__ = ["AppSettings", "parse_env", "parse_watch_paths", "read_deploy_key"]

# (GraphQL field, label, integer?)
FIELDS = (
    ("sourceRepo", "Source repository", False),
    ("sourceRef", "Branch or tag", False),
    ("contextPath", "Build context (path in the repository)", False),
    ("port", "Port", True),
    ("replicas", "Replicas", True),
    ("healthPath", "Health check path", False),
    ("ingressHost", "Ingress host (cluster mode, optional)", False),
)


def parse_env(text: str) -> list[EnvVar]:
    """`NAME=value` lines; blank lines and `#` comments are skipped."""
    result: list[EnvVar] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"line {number}: write NAME=value")
        result.append({"name": name.strip(), "value": value})
    return result


def parse_watch_paths(text: str) -> list[str]:
    """One glob per line; blank lines are skipped (the server checks the globs)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


class AppSettings(VerticalScroll):
    """The Settings tab; posts what the user asked to change, for the screen to send."""

    @dataclass
    class SaveWanted(Message):
        """The user asked to save the settings; `changes` is the `UpdateAppInput`."""

        changes: dict[str, object]

    @dataclass
    class SecretWanted(Message):
        """The user asked to set a secret of app `app_id`."""

        app_id: str

    @dataclass
    class SecretClearWanted(Message):
        """The user confirmed clearing secret `name` of app `app_id`."""

        app_id: str
        name: str

    @dataclass
    class CredentialWanted(Message):
        """The user asked to set the source credential of app `app_id`."""

        app_id: str

    @dataclass
    class CredentialClearWanted(Message):
        """The user confirmed clearing the source credential of app `app_id`."""

        app_id: str

    @dataclass
    class WebhookSecretWanted(Message):
        """The user asked for a new source webhook secret of app `app_id`."""

        app_id: str
        replaces: bool
        """Whether a secret is set already (it stops working)."""

    app_id: str | None = None
    webhook_secret_set = False

    def compose(self) -> ComposeResult:
        # Shown only while the source repository cannot be read: pushes start nothing then.
        yield Label("", id="source-error")
        for name, label, integer in FIELDS:
            yield Label(label, classes="field-label")
            yield Input(id=f"set-{name}", type="integer" if integer else "text")
            yield Label("", classes="field-error", id=f"error-{name}")
        yield Label("Environment variables (NAME=value, one per line)", classes="field-label")
        yield TextArea(id="set-env", classes="env-editor")
        yield Label("", classes="field-error", id="error-env")
        yield Checkbox(
            "Auto deploy: a new commit on the branch starts a release", id="set-autoDeploy"
        )
        yield Label("", classes="field-error", id="error-autoDeploy")
        yield Label(
            "Watch paths (gitignore-style globs, one per line; empty: every path)",
            classes="field-label",
        )
        yield TextArea(id="set-watchPaths", classes="env-editor")
        yield Label("", classes="field-error", id="error-watchPaths")
        yield Button("Save settings", variant="primary", id="save-settings")
        yield Label("Secrets (values are never shown)", classes="section-title")
        yield DataTable(id="secrets", cursor_type="row")
        with Horizontal(classes="buttons"):
            yield Button("Set secret", id="set-secret")
            yield Button("Clear secret", variant="warning", id="clear-secret")
        yield Label("Source credential (never shown)", classes="section-title")
        yield Label("", id="source-credential")
        with Horizontal(classes="buttons"):
            yield Button("Set source credential", id="set-source-credential")
            yield Button("Clear", variant="warning", id="clear-source-credential")
        yield Label("Push webhook (for the source repository's git host)", classes="section-title")
        yield Label("", id="source-webhook")
        yield Label("", id="source-checked")
        with Horizontal(classes="buttons"):
            yield Button("New webhook secret", id="new-webhook-secret")

    def on_mount(self) -> None:
        self.query_one("#secrets", DataTable).add_columns("Name", "Set by", "When")

    def show(self, details: AppDetail) -> None:
        self.app_id = details["id"]
        settings: Mapping[str, object] = details
        for name, _label, _integer in FIELDS:
            value = settings[name]
            self.query_one(f"#set-{name}", Input).value = "" if value is None else str(value)
        self.query_one("#set-env", TextArea).text = "\n".join(
            f"{e['name']}={e['value']}" for e in details["env"]
        )
        self.query_one("#set-autoDeploy", Checkbox).value = details["autoDeploy"]
        self.query_one("#set-watchPaths", TextArea).text = "\n".join(details["watchPaths"])
        self._show_source(details)
        credential = details["sourceCredential"]
        self.query_one("#source-credential", Label).update(
            "none: public sources only"
            if not credential
            else safe_text(
                f"{credential['kind']}"
                + (f" for {credential['username']}" if credential["username"] else "")
                + f", set by {credential['updatedBy']} {ago(credential['updatedAt'])}"
            )
        )
        table = self.query_one("#secrets", DataTable)
        table.clear()
        for secret in details["secrets"]:
            table.add_row(
                safe_text(secret["name"]),
                safe_text(secret["updatedBy"]),
                ago(secret["updatedAt"]),
                key=secret["name"],
            )

    def _show_source(self, details: AppDetail) -> None:
        error = details["sourceError"]
        source_error = self.query_one("#source-error", Label)
        source_error.display = bool(error)
        source_error.update(
            safe_text(f"The source repository cannot be read (pushes start nothing): {error}")
            if error
            else ""
        )
        checked = details["sourceCheckedAt"]
        self.query_one("#source-checked", Label).update(
            safe_text(
                f"Newest commit last asked for {ago(checked)}"
                + (": the repository could not be read" if error else "")
                if checked
                else "The source repository has not been asked for its newest commit yet."
            )
        )
        webhook = details["sourceWebhook"]
        self.webhook_secret_set = webhook["secretSet"]
        secret = (
            "a secret is set (shown only when made)"
            if webhook["secretSet"]
            else "no secret yet: make one and give it to the git host with the URL"
        )
        self.query_one("#source-webhook", Label).update(
            safe_text(f"URL {webhook['url']}\nSecret: {secret}")
        )

    def _changes(self) -> dict[str, object]:
        changes: dict[str, object] = {"id": self.app_id}
        for name, _label, integer in FIELDS:
            text = self.query_one(f"#set-{name}", Input).value.strip()
            if integer:
                changes[name] = int(text) if text else None
            else:  # for the ingress host, "" removes it
                changes[name] = text
        changes["env"] = parse_env(self.query_one("#set-env", TextArea).text)
        changes["autoDeploy"] = self.query_one("#set-autoDeploy", Checkbox).value
        changes["watchPaths"] = parse_watch_paths(self.query_one("#set-watchPaths", TextArea).text)
        return changes

    @on(Button.Pressed, "#save-settings")
    def _save_pressed(self) -> None:
        self.save()

    def save(self) -> None:
        for label in self.query(".field-error").results(Label):
            label.update("")
        try:
            changes = self._changes()
        except ValueError as error:
            self.query_one("#error-env", Label).update(str(error))
            return
        self.post_message(self.SaveWanted(changes))

    def show_errors(self, error: ActionFailed) -> None:
        """Put the server's field errors under their fields."""
        for field_error in error.field_errors:
            target = self.query(f"#error-{field_error.field.split('.')[0]}")
            if target:
                target.first(Label).update(safe_text(field_error.message))

    @on(Button.Pressed, "#set-secret")
    def set_secret(self) -> None:
        if self.app_id is not None:
            self.post_message(self.SecretWanted(self.app_id))

    @on(Button.Pressed, "#clear-secret")
    def _clear_pressed(self) -> None:
        self.clear_secret()

    @work(exclusive=True, group="settings", exit_on_error=False)
    async def clear_secret(self) -> None:
        table = self.query_one("#secrets", DataTable)
        if not table.row_count:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        if not await self.app.push_screen_wait(ConfirmDialog(f"Clear the secret {name}?", "Clear")):
            return
        if self.app_id is not None:
            self.post_message(self.SecretClearWanted(self.app_id, name))

    @on(Button.Pressed, "#set-source-credential")
    def set_source_credential(self) -> None:
        if self.app_id is not None:
            self.post_message(self.CredentialWanted(self.app_id))

    @on(Button.Pressed, "#clear-source-credential")
    def _clear_credential_pressed(self) -> None:
        self.clear_source_credential()

    @on(Button.Pressed, "#new-webhook-secret")
    def new_webhook_secret(self) -> None:
        if self.app_id is not None:
            self.post_message(self.WebhookSecretWanted(self.app_id, self.webhook_secret_set))

    @work(exclusive=True, group="settings", exit_on_error=False)
    async def clear_source_credential(self) -> None:
        if not await self.app.push_screen_wait(
            ConfirmDialog("Clear the source credential?", "Clear")
        ):
            return
        if self.app_id is not None:
            self.post_message(self.CredentialClearWanted(self.app_id))


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text()


async def read_deploy_key(path: str) -> str:
    """A deploy key from a file on this machine; a field error when it cannot be read."""
    try:
        return await asyncio.to_thread(_read_text, path)
    except (OSError, UnicodeDecodeError) as error:
        raise ActionFailed(
            "ValidationError",
            "the deploy key file cannot be read",
            [FieldError("sshKeyFile", getattr(error, "strerror", None) or "not a text file")],
        ) from None
