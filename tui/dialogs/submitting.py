"""The part every editing dialog shares: send the values, keep the dialog open on errors.

A server refusal does not close the dialog: each field's message goes under
its field (a `Label` with id `error-<field>`), the rest into `#form-error`,
so nothing typed is lost and the user fixes what the server named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeAlias, TypeVar

from textual import work
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from home_idp.tui.errors import ActionFailed, GatewayError
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["FormValues", "Result", "Submit", "SubmittingDialog"]

FormValues: TypeAlias = dict[str, str | int]
"""A dialog's inputs by name: text, or a whole number for a number field."""

Result = TypeVar("Result")

Submit: TypeAlias = Callable[[FormValues], Awaitable[Result]]


class SubmittingDialog(ModalScreen[Result | None], Generic[Result]):
    """Runs `submit` with the dialog's values and closes with its result (None: cancelled).

    Subclasses compose a `#submit` button, a `#form-error` label and one
    `#error-<name>` label per name in `field_names`.
    """

    def __init__(self, submit: Submit[Result]) -> None:
        super().__init__()
        self.submit = submit

    @property
    def field_names(self) -> tuple[str, ...]:
        """The input fields whose server errors show under them."""
        raise NotImplementedError

    @work(exclusive=True, exit_on_error=False)
    async def run_submit(self, values: FormValues) -> None:
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
        names = self.field_names
        for name in names:
            self.query_one(f"#error-{name}", Label).update("")
        unplaced = []
        for field_error in error.field_errors:
            # "env[2].name" belongs to the input "env".
            name = field_error.field.split(".")[0].split("[")[0]
            if name in names:
                self.query_one(f"#error-{name}", Label).update(safe_text(field_error.message))
            else:
                unplaced.append(f"{field_error.field}: {field_error.message}")
        self.query_one("#form-error", Label).update(
            safe_text("; ".join([error.message, *unplaced]))
            if unplaced or not error.field_errors
            else ""
        )
