"""A small form in a dialog: labelled inputs, validated by the server.

The dialog does not close on a server error: the caller shows the typed
error's field messages beside the inputs (`show_errors`) and the user fixes
them, so nothing typed is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label

from home_idp.tui.dialogs.box import dialog_box
from home_idp.tui.dialogs.submitting import FormValues, Result, Submit, SubmittingDialog

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


class FormDialog(SubmittingDialog[Result]):
    """Collects values, runs `submit` with them and closes with its result."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "Input"

    def __init__(
        self, title: str, fields: list[FormField], submit: Submit[Result], action: str
    ) -> None:
        super().__init__(submit)
        self.title_text = title
        self.fields = fields
        self.action_label = action

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def compose(self) -> ComposeResult:
        with dialog_box(self.title_text):
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

    def values(self) -> FormValues:
        """The inputs' values; raises ValueError naming a field that is not a number."""
        result: FormValues = {}
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
