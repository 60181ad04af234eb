"""An app's config files: a table of what is mounted where, and a dialog to write one.

Saving or deleting a file starts a config-only release of an app that runs
(nothing is rebuilt); the notification says which, or that the next release
picks the change up. Viewers may open a file but not change one.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from home_idp.tui.dialogs import ConfirmDialog, TextViewDialog
from home_idp.tui.results import AppConfig, AppFile
from home_idp.tui.widgets.editable_tab import EditableTab
from home_idp.tui.widgets.formatting import ago, safe_text
from home_idp.tui.widgets.table_tab import TableTab

__all__ = ["AppFiles", "size_label"]


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def _file_cells(file: AppFile) -> tuple[str | Text, ...]:
    return (
        safe_text(file["name"]),
        safe_text(file["mountPath"]),
        size_label(file["size"]),
        safe_text(file["updatedBy"]),
        ago(file["updatedAt"]),
    )


def _file_key(file: AppFile) -> str:
    return file["name"]


class AppFiles(EditableTab, TableTab):
    """The Files tab. Set `read_only`, call `show(config)`; the screen writes and deletes."""

    BINDINGS = [
        Binding("n", "new_file", "New file"),
        Binding("e", "edit_file", "Edit file"),
        Binding("d", "delete_file", "Delete file"),
        # For viewers the keys above are hidden; a press still gets an answer.
        Binding("n,e,d", "explain_read_only", show=False),
    ]
    EDIT_ACTIONS = frozenset({"new_file", "edit_file", "delete_file"})
    READ_ONLY_MESSAGE = "Viewers cannot change config files: ask a developer of the project."
    TABLE_ID = "files-table"
    HINT_ID = "files-hint"
    COLUMNS = ("Name", "Mount path", "Size", "By", "When")

    @dataclass
    class EditWanted(Message):
        """The user asked to write a file of app `app_id`: a new one (`file` None) or `file`."""

        app_id: str
        file: AppFile | None

    @dataclass
    class DeletionWanted(Message):
        """The user confirmed deleting file `name` of app `app_id`."""

        app_id: str
        name: str

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_id: str | None = None
        self.files: list[AppFile] = []

    def show(self, config: AppConfig) -> None:
        self.app_id = config["id"]
        self.files = sorted(config["files"], key=lambda f: f["name"])
        self.fill(self.files, _file_cells, _file_key)
        hint = "Read-only files mounted into the app's containers."
        if not self.files:
            hint = "No config files yet." + ("" if self.read_only else " Press n to add one.")
        self.hint(hint)
        self.refresh_bindings()

    @property
    def current(self) -> AppFile | None:
        return self.at_cursor(self.files)

    @on(DataTable.RowSelected, "#files-table")
    def row_chosen(self) -> None:
        if self.read_only:
            file = self.current
            if file is not None:
                self.app.push_screen(
                    TextViewDialog(f"{file['name']} → {file['mountPath']}", file["content"])
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

    def _open_dialog(self, file: AppFile | None) -> None:
        if self.app_id is not None:
            self.post_message(self.EditWanted(self.app_id, file))

    @work(exclusive=True, group="files", exit_on_error=False)
    async def action_delete_file(self) -> None:
        file, app_id = self.current, self.app_id
        if file is None or app_id is None:
            return
        name = file["name"]
        question = f"Delete {name} (mounted at {file['mountPath']})?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, "Delete")):
            return
        self.post_message(self.DeletionWanted(app_id, name))
