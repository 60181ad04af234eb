"""An app's config files: a table of what is mounted where, and a dialog to write one.

Saving or deleting a file starts a config-only release of an app that runs
(nothing is rebuilt); the notification says which, or that the next release
picks the change up. Viewers may open a file but not change one.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Label

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import ConfirmDialog, FileDialog, TextViewDialog
from home_idp.tui.widgets.editable_tab import EditableTab
from home_idp.tui.widgets.formatting import ago, releases_started, safe_text

__all__ = ["AppFiles", "size_label"]


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


class AppFiles(EditableTab):
    """The Files tab. Set `read_only`, call `show(config)`; posts `Changed` after a change."""

    BINDINGS = [
        Binding("n", "new_file", "New file"),
        Binding("e", "edit_file", "Edit file"),
        Binding("d", "delete_file", "Delete file"),
        # For viewers the keys above are hidden; a press still gets an answer.
        Binding("n,e,d", "explain_read_only", show=False),
    ]
    EDIT_ACTIONS = frozenset({"new_file", "edit_file", "delete_file"})
    READ_ONLY_MESSAGE = "Viewers cannot change config files: ask a developer of the project."

    class Changed(Message):
        """A file was saved or deleted; `config` is the app's new config."""

        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__()
            self.config = config

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_id: str | None = None
        self.files: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="files-hint", classes="tab-hint")
        yield DataTable[str | Text](id="files-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.table.add_columns("Name", "Mount path", "Size", "By", "When")

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one("#files-table", DataTable)

    def show(self, config: dict[str, Any]) -> None:
        self.app_id = str(config["id"])
        self.files = sorted(config.get("files", []), key=lambda f: str(f["name"]))
        table = self.table
        keep = table.cursor_row
        table.clear()
        for file in self.files:
            table.add_row(
                safe_text(file["name"]),
                safe_text(file["mountPath"]),
                size_label(int(file["size"])),
                safe_text(file["updatedBy"]),
                ago(file.get("updatedAt")),
                key=str(file["name"]),
            )
        if self.files:
            table.move_cursor(row=min(keep, len(self.files) - 1))
        hint = "Read-only files mounted into the app's containers."
        if not self.files:
            hint = "No config files yet." + ("" if self.read_only else " Press n to add one.")
        self.query_one("#files-hint", Label).update(hint)
        self.refresh_bindings()

    @property
    def current(self) -> dict[str, Any] | None:
        row = self.table.cursor_row
        return self.files[row] if self.files and 0 <= row < len(self.files) else None

    @on(DataTable.RowSelected, "#files-table")
    def row_chosen(self) -> None:
        if self.read_only:
            file = self.current
            if file is not None:
                self.app.push_screen(
                    TextViewDialog(f"{file['name']} → {file['mountPath']}", str(file["content"]))
                )
            return
        self.action_edit_file()

    def action_new_file(self) -> None:
        self._open_dialog(None)

    def action_edit_file(self) -> None:
        file = self.current
        if file is None:
            self.notify("No file to edit: press n to add one.", severity="warning")
            return
        self._open_dialog(file)

    def _open_dialog(self, file: dict[str, Any] | None) -> None:
        app_id = self.app_id
        if app_id is None:
            return

        async def save(values: dict[str, str]) -> Any:
            return await home_of(self).gateway.mutate("PutAppFile", input={"app": app_id, **values})

        title = f"Edit {file['name']}" if file else "New config file"
        self.app.push_screen(FileDialog(title, save, file), self._saved)

    def _saved(self, result: dict[str, Any] | None) -> None:
        if not result:
            return
        note = releases_started(
            result["releases"], "no app runs yet: the file is used by the next release"
        )
        self.notify(f"File saved; {note}.", markup=False)
        self.post_message(self.Changed(result["app"]))

    @work(exclusive=True, group="files", exit_on_error=False)
    async def action_delete_file(self) -> None:
        file, app_id = self.current, self.app_id
        if file is None or app_id is None:
            return
        name = str(file["name"])
        question = f"Delete {name} (mounted at {file['mountPath']})?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, "Delete")):
            return
        home = home_of(self)
        with home.reporting():
            result = await home.gateway.mutate("DeleteAppFile", input={"app": app_id, "name": name})
            note = releases_started(result["releases"], "the next release goes without it")
            self.notify(f"Deleted {name}; {note}.", markup=False)
            self.post_message(self.Changed(result["app"]))
