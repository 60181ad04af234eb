"""The log's search: typed right after "/", enter jumps to a match and hands the
keys back to the log."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Input, Label

from home_idp.tui.app import HomeIdpApp
from home_idp.tui.widgets.build_log import BuildLogView
from home_idp.tui.widgets.log_lines import LogLines
from tests.tui.conftest import send_keys, wait_for


class Logs(Screen[None]):
    def compose(self) -> ComposeResult:
        yield BuildLogView()


async def test_after_a_search_n_finds_the_next_match_and_f_follows_again(tmp_path: Path) -> None:
    # The dashboard itself (its keys are what is tested), on a screen of just a log.
    app = HomeIdpApp("http://127.0.0.1:9", config_dir=tmp_path)
    async with app.run_test(size=(80, 20)) as pilot:
        await app.push_screen(Logs())
        view = app.screen.query_one(BuildLogView)
        for number in range(1, 41):
            view.append(f"step {number}: {'error' if number in (5, 30) else 'ok'}")
        await wait_for(pilot, lambda: len(view.log_widget.lines) == 40, what="the lines")
        view.log_widget.focus()

        await send_keys(pilot, "slash", *"error", "enter")
        status = app.screen.query_one("#log-follow", Label)
        assert str(status.content) == "line 5 · paused"
        assert isinstance(app.focused, LogLines)

        await send_keys(pilot, "n")
        assert str(status.content) == "line 30 · paused"
        await send_keys(pilot, "f")
        assert str(status.content) == "following"
        assert app.screen.query_one("#log-search", Input).value == "error"
