"""Write or edit an app's config file: name, mount path and content.

The content can be typed, or loaded from a local file the dashboard reads
(at most 1 MiB, UTF-8 text). Like `FormDialog`, a server error keeps the
dialog open with each field's message under its field.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, TextArea

from home_idp.tui.dialogs.box import dialog_box
from home_idp.tui.dialogs.submitting import FormValues, Result, Submit, SubmittingDialog
from home_idp.tui.results import AppFile
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["MAX_FILE_BYTES", "FileDialog", "read_local_file"]

MAX_FILE_BYTES = 1024 * 1024

_FIELDS = ("name", "mountPath", "content")


def read_local_file(path: str) -> str:
    """A local text file's content; ValueError says why it cannot be used."""
    target = Path(path).expanduser()
    try:
        with target.open("rb") as handle:
            # Read one byte past the limit: a file growing meanwhile is caught too.
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{target} has more than {MAX_FILE_BYTES} bytes; at most 1 MiB")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{target} is not UTF-8 text") from None
    except OSError as error:
        raise ValueError(error.strerror or str(error)) from None


class FileDialog(SubmittingDialog[Result]):
    """Collects a file, runs `submit` with {name, mountPath, content}, closes with its result."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]
    AUTO_FOCUS = "#file-name"

    def __init__(self, title: str, submit: Submit[Result], file: AppFile | None = None) -> None:
        super().__init__(submit)
        self.title_text = title
        self.file = file

    @property
    def field_names(self) -> tuple[str, ...]:
        return _FIELDS

    def compose(self) -> ComposeResult:
        editing = self.file is not None
        with dialog_box(self.title_text, "file-dialog"):
            with Horizontal(classes="file-names"):
                with Vertical():
                    yield Label("Name", classes="field-label")
                    yield Input(
                        self.file["name"] if self.file else "",
                        placeholder="app.yaml",
                        id="file-name",
                        disabled=editing,  # another name would be another file
                    )
                    yield Label("", classes="field-error", id="error-name")
                with Vertical():
                    yield Label("Mount path in the container", classes="field-label")
                    yield Input(
                        self.file["mountPath"] if self.file else "",
                        placeholder="/config/app.yaml",
                        id="file-mountPath",
                    )
                    yield Label("", classes="field-error", id="error-mountPath")
            with Horizontal(classes="file-load"):
                yield Input(placeholder="load from a local file: path", id="file-load-path")
                yield Button("Load", id="file-load")
            yield Label("", classes="field-error", id="error-load")
            yield TextArea(self.file["content"] if self.file else "", id="file-content")
            yield Label("", classes="field-error", id="error-content")
            yield Label("", classes="form-error", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def values(self) -> FormValues:
        return {
            "name": self.query_one("#file-name", Input).value.strip(),
            "mountPath": self.query_one("#file-mountPath", Input).value.strip(),
            "content": self.query_one("#file-content", TextArea).text,
        }

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#file-load")
    @on(Input.Submitted, "#file-load-path")
    def load_pressed(self) -> None:
        self.load_local(self.query_one("#file-load-path", Input).value.strip())

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load_local(self, path: str) -> None:
        error = self.query_one("#error-load", Label)
        if not path:
            error.update("write the path of a local file")
            return
        try:
            content = await asyncio.to_thread(read_local_file, path)
        except ValueError as problem:
            error.update(safe_text(problem))
            return
        error.update("")
        self.query_one("#file-content", TextArea).text = content
        if not self.query_one("#file-name", Input).value:
            self.query_one("#file-name", Input).value = Path(path).name

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted, "#file-name, #file-mountPath")
    def action_save(self) -> None:
        self.run_submit(self.values())
