"""A small form in a dialog: labelled inputs, validated by the server.

The dialog does not close on a server error: the caller shows the typed
error's field messages beside the inputs (`show_errors`) and the user fixes
them, so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from home_idp.tui.errors import ActionFailed, GatewayError
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["FormDialog", "FormField"]


@dataclass(frozen=True)
class FormField:
    """One input of a form; `name` is the GraphQL input field it fills."""

    name: str
    label: str
    value: str = ""
    placeholder: str = ""
    password: bool = False
    integer: bool = False


Submit = Callable[[dict[str, Any]], Awaitable[Any]]


class FormDialog(ModalScreen[Any]):
    """Collects values, runs `submit` with them and closes with its result."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "Input"

    def __init__(self, title: str, fields: list[FormField], submit: Submit, action: str) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.submit = submit
        self.action_label = action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(safe_text(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                for spec in self.fields:
                    yield Label(spec.label, classes="field-label")
                    yield Input(
                        value=spec.value,
                        placeholder=spec.placeholder,
                        password=spec.password,
                        type="integer" if spec.integer else "text",
                        id=f"field-{spec.name}",
                    )
                    yield Label("", classes="field-error", id=f"error-{spec.name}")
            yield Label("", classes="form-error", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.action_label, variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def values(self) -> dict[str, Any]:
        """The inputs' values; raises ValueError naming a field that is not a number."""
        result: dict[str, Any] = {}
        for spec in self.fields:
            text = self.query_one(f"#field-{spec.name}", Input).value.strip()
            if spec.integer and text:
                try:
                    result[spec.name] = int(text)
                except ValueError:
                    raise ValueError(spec.name) from None
            else:
                result[spec.name] = text
        return result

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted)
    def send(self) -> None:
        try:
            values = self.values()
        except ValueError as error:
            self.query_one(f"#error-{error.args[0]}", Label).update("write a whole number")
            return
        self.run_submit(values)

    @work(exclusive=True, exit_on_error=False)
    async def run_submit(self, values: dict[str, Any]) -> None:
        self.query_one("#submit", Button).disabled = True
        try:
            result = await self.submit(values)
        except ActionFailed as error:
            self.show_errors(error)
        except GatewayError as error:
            self.query_one("#form-error", Label).update(safe_text(error))
        else:
            self.dismiss(result)
        finally:
            if self.is_attached:
                self.query_one("#submit", Button).disabled = False

    def show_errors(self, error: ActionFailed) -> None:
        for spec in self.fields:
            self.query_one(f"#error-{spec.name}", Label).update("")
        unplaced = []
        for field_error in error.field_errors:
            # "env[2].name" belongs to the input "env"; ids are plain names.
            name = field_error.field.split(".")[0].split("[")[0]
            target = self.query(f"#error-{name}") if name.isidentifier() else None
            if target:
                target.first(Label).update(safe_text(field_error.message))
            else:
                unplaced.append(f"{field_error.field}: {field_error.message}")
        self.query_one("#form-error", Label).update(
            safe_text("; ".join([error.message, *unplaced]))
            if unplaced or not error.field_errors
            else ""
        )
