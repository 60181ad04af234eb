"""Keys typed in a burst (a paste, a script, a slow SSH link) act in the order they
were typed, and never cross from one field into another."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, TextArea

from home_idp.tui.app import HomeIdpApp
from home_idp.tui.dialogs.file_edit import FileDialog
from home_idp.tui.dialogs.form import FormDialog, FormField
from home_idp.tui.dialogs.submitting import FormValues
from tests.tui.conftest import send_keys, wait_for

# Nothing answers there: the dialogs below never send anything.
NO_SERVER = "http://127.0.0.1:9"


async def never_submitted(values: FormValues) -> None:
    raise AssertionError(f"nothing is submitted here, yet got {values}")


async def test_a_name_tab_and_a_value_typed_at_once_each_land_in_their_own_field(
    tmp_path: Path,
) -> None:
    app = HomeIdpApp(NO_SERVER, config_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        fields = [FormField("name", "Name"), FormField("value", "Value", password=True)]
        app.push_screen(FormDialog("Set a secret", fields, never_submitted, "Set"))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "field-name")

        await send_keys(pilot, *"API_KEY", "tab", *"s3c")

        assert app.screen.query_one("#field-name", Input).value == "API_KEY"
        assert app.screen.query_one("#field-value", Input).value == "s3c"


async def test_end_then_a_character_typed_at_once_add_it_at_the_line_s_end(
    tmp_path: Path,
) -> None:
    app = HomeIdpApp(NO_SERVER, config_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(FileDialog("New file", never_submitted))
        await wait_for(pilot, lambda: app.screen.query("#file-content"), what="the dialog")
        editor = app.screen.query_one("#file-content", TextArea)
        editor.text = "registry: 127.0.0.1:5000"
        editor.focus()
        editor.move_cursor((0, len("registry: 127.0.0.1:5")))
        await pilot.pause()

        await send_keys(pilot, "end", "Q", "enter", *"ok")

        assert editor.text == "registry: 127.0.0.1:5000Q\nok"
