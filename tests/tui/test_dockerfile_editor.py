"""The Dockerfile editor widget: highlighting, lint markers and panel, dirtiness, save."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import OptionList

from home_idp.tui.results import LintFinding
from home_idp.tui.widgets import dockerfile_editor
from home_idp.tui.widgets.dockerfile_editor import DockerfileEditor

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11
FROM python:latest AS runtime
WORKDIR /app
COPY . /app
CMD ["python", "app.py"]
"""

FINDINGS: list[LintFinding] = [
    {"line": 3, "code": "DL3007", "level": "warning", "message": "Using latest is prone to errors"},
    {"line": 5, "code": "DL3021", "level": "error", "message": "COPY with more than 2 arguments"},
]


class EditorApp(App[None]):
    """Just the widget, recording the messages it posts."""

    def __init__(self, read_only: bool = False) -> None:
        super().__init__()
        self.read_only = read_only
        self.changes: list[bool] = []
        self.saves: list[str] = []

    def compose(self) -> ComposeResult:
        yield DockerfileEditor(read_only=self.read_only, id="editor")

    def on_mount(self) -> None:
        self.query_one(DockerfileEditor).load(DOCKERFILE, FINDINGS, version=7)

    def on_dockerfile_editor_changed(self, event: DockerfileEditor.Changed) -> None:
        self.changes.append(event.dirty)

    def on_dockerfile_editor_save_requested(self, event: DockerfileEditor.SaveRequested) -> None:
        self.saves.append(event.content)


def _line_text(editor: DockerfileEditor, y: int) -> str:
    return editor.text_area.render_line(y).text


def _gutter(editor: DockerfileEditor, y: int) -> str:
    return _line_text(editor, y)[: editor.text_area.gutter_width]


async def test_dockerfile_is_highlighted_with_line_numbers() -> None:
    app = EditorApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        area = editor.text_area
        assert area.language == "dockerfile"
        assert area.show_line_numbers
        assert _gutter(editor, 1).strip() == "2"

        # Line 4 ("WORKDIR /app") is away from the cursor line: compare the
        # keyword's style with the plain path after it.
        segments = list(area.render_line(3))
        keyword = next(s for s in segments if s.text == "WORKDIR")
        plain = next(s for s in segments if "/app" in s.text)
        assert keyword.style is not None and plain.style is not None
        assert keyword.style.color != plain.style.color

        names = {name for _, _, name in area._highlights[2]}
        assert {"keyword", "class"} <= names  # FROM and the image name.
        assert "comment" in {name for _, _, name in area._highlights[0]}


async def test_findings_mark_their_lines_only() -> None:
    app = EditorApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        assert "▲" in _gutter(editor, 2)
        assert "✖" in _gutter(editor, 4)
        for y in (0, 1, 3, 5):
            gutter = _gutter(editor, y)
            assert not set(gutter) & set("▲✖●"), gutter
        # The marker does not hide the text of its line.
        assert "FROM python:latest AS runtime" in _line_text(editor, 2)

        editor.set_findings([])
        await pilot.pause()
        assert "▲" not in _gutter(editor, 2)


async def test_panel_lists_findings_and_enter_jumps_to_the_line() -> None:
    app = EditorApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        panel = app.query_one("#lint-panel", OptionList)
        rows = [str(option.prompt) for option in panel.options]
        assert rows == [
            "L3 DL3007 warning: Using latest is prone to errors",
            "L5 DL3021 error: COPY with more than 2 arguments",
        ]
        assert panel.border_title == "Lint: 2 findings"

        panel.focus()
        await pilot.press("down", "down", "enter")  # Highlight the second row, select it.
        await pilot.pause()
        assert editor.text_area.cursor_location == (4, 0)
        assert editor.text_area.has_focus


async def test_typing_marks_dirty_once_and_undo_cleans() -> None:
    app = EditorApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        panel = app.query_one("#lint-panel", OptionList)
        assert not editor.is_dirty
        assert editor.version == 7

        editor.text_area.focus()
        await pilot.press("x", "y", "z")
        await pilot.pause()
        assert editor.is_dirty
        assert editor.text.startswith("xyz# syntax")
        assert app.changes == [True]
        assert "(from the saved version)" in str(panel.border_title)
        assert "▲" in _gutter(editor, 2)  # Still shown, honestly labelled as stale.

        editor.text_area.undo()
        await pilot.pause()
        assert editor.text == DOCKERFILE
        assert not editor.is_dirty
        assert app.changes == [True, False]
        assert "saved version" not in str(panel.border_title)

        await pilot.press("q")
        await pilot.pause()
        assert app.changes == [True, False, True]
        editor.load("FROM alpine\n", [], version=8)
        await pilot.pause()
        assert not editor.is_dirty
        assert app.changes == [True, False, True, False]
        assert panel.border_title == "Lint: no findings"


async def test_ctrl_s_requests_a_save_of_the_current_text() -> None:
    app = EditorApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        editor.text_area.focus()
        await pilot.press("a")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.saves == ["a" + DOCKERFILE]


async def test_read_only_blocks_typing_and_saving() -> None:
    app = EditorApp(read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        assert editor.read_only
        editor.text_area.focus()
        await pilot.press("a", "b", "ctrl+s")
        await pilot.pause()
        assert editor.text == DOCKERFILE
        assert not editor.is_dirty
        assert app.saves == []

        editor.read_only = False
        await pilot.press("a")
        await pilot.pause()
        assert editor.is_dirty


async def test_without_tree_sitter_it_is_a_plain_editor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerfile_editor, "_dockerfile_language", lambda: None)
    app = EditorApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.query_one(DockerfileEditor)
        assert editor.text_area.language is None
        assert "FROM python:latest" in _line_text(editor, 2)
        assert "▲" in _gutter(editor, 2)
