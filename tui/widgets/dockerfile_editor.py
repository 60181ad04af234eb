"""The Dockerfile editor: a highlighted code editor with hadolint findings beside their lines.

`DockerfileEditor` composes a `DockerfileTextArea` (a `TextArea` that draws a
lint marker in its gutter) and a compact panel listing the findings. It never
talks to the server: the screen calls `load()` with what the server returned,
listens for `Changed` to show "modified", and handles `SaveRequested`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Offset
from textual.message import Message
from textual.strip import Strip
from textual.widgets import OptionList, TextArea

from home_idp.tui.results import LintFinding

if TYPE_CHECKING:
    from tree_sitter import Language

__all__ = ["DockerfileEditor", "DockerfileTextArea", "Finding"]

# Marker glyph, colour and severity rank (lower is worse) per hadolint level.
_LEVELS: dict[str, tuple[str, Style, int]] = {
    "error": ("✖", Style(color="#e5484d", bold=True), 0),
    "warning": ("▲", Style(color="#f5a524", bold=True), 1),
    "info": ("●", Style(color="#3b82f6"), 2),
    "style": ("●", Style(color="#8b8b8b"), 3),
}

# The packaged query uses capture names Textual's themes don't style: `@constant`
# would stay plain (`@none` is deliberately unstyled and kept).
_CAPTURE_RENAMES = {"constant": "constant.builtin"}

# The packaged query leaves image names and most variables uncoloured; these are
# the parts of a Dockerfile a reader scans for, so capture them too.
_EXTRA_PATTERNS = """
(image_name) @class
(image_tag) @type
(image_digest) @type
(image_alias) @type
(variable) @constant.builtin
(env_pair name: (_) @constant.builtin)
(arg_instruction name: (_) @constant.builtin)
"""


@cache
def _dockerfile_language() -> tuple[Language, str] | None:
    """The tree-sitter language and highlight query, or None to edit as plain text."""
    try:
        import tree_sitter
        import tree_sitter_dockerfile

        # tree-sitter-dockerfile 0.2 hands out a raw int pointer, which
        # tree-sitter >= 0.22 accepts with a DeprecationWarning; the warning is
        # not ours to fix and must not turn into an error under `-W error`.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            language = tree_sitter.Language(tree_sitter_dockerfile.language())
        raw = (
            resources.files("tree_sitter_dockerfile")
            .joinpath("queries/highlights.scm")
            .read_text(encoding="utf-8")
        )
        query = re.sub(
            r"@([A-Za-z_][\w.]*)",
            lambda m: "@" + _CAPTURE_RENAMES.get(m.group(1), m.group(1)),
            raw,
        )
        query += _EXTRA_PATTERNS
        tree_sitter.Query(language, query)  # Fail here, not later inside the TextArea.
    except Exception:  # Any failure means "no highlighting", never a crash.
        return None
    return language, query


@dataclass(frozen=True)
class Finding:
    """One hadolint finding, normalised from the server's."""

    line: int  # 1-based, in the text the findings were computed for.
    code: str
    level: str
    message: str

    @classmethod
    def from_dict(cls, data: LintFinding) -> Finding:
        level = str(data.get("level") or "info").lower()
        return cls(
            line=int(data.get("line") or 0),
            code=str(data.get("code") or ""),
            level=level if level in _LEVELS else "info",
            message=str(data.get("message") or ""),
        )


class DockerfileTextArea(TextArea):
    """A code-editor `TextArea` for Dockerfiles that marks linted lines in its gutter."""

    def __init__(self, *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(
            soft_wrap=False,
            tab_behavior="indent",  # Soft tabs: tab inserts spaces (indent_type).
            show_line_numbers=True,
            read_only=read_only,
            theme="css",  # Follow the app's theme rather than a fixed palette.
            id=id,
        )
        self.indent_type = "spaces"
        self._markers: dict[int, str] = {}  # 0-based line -> worst level on it.
        loaded = _dockerfile_language()
        if loaded is not None:
            try:
                self.register_language("dockerfile", *loaded)
                self.language = "dockerfile"
            except Exception:
                self.language = None

    def set_markers(self, findings: Sequence[Finding]) -> None:
        """Mark each finding's line with its most severe level."""
        markers: dict[int, str] = {}
        for finding in findings:
            row = finding.line - 1
            current = markers.get(row)
            if current is None or _LEVELS[finding.level][2] < _LEVELS[current][2]:
                markers[row] = finding.level
        self._markers = markers
        self.refresh()

    def render_line(self, y: int) -> Strip:
        # Post-process TextArea's (cached) line rather than re-implementing it, so
        # cursor, selection and highlighting stay exactly as Textual draws them.
        strip = super().render_line(y)
        if not self._markers or not self.show_line_numbers:
            return strip
        absolute_y = self.scroll_offset.y + y
        if absolute_y >= self.wrapped_document.height:
            return strip
        row, column = self.wrapped_document.offset_to_location(Offset(0, absolute_y))
        level = self._markers.get(row)
        if level is None or column != 0:  # Only the first section of a wrapped line.
            return strip
        glyph, colour, _ = _LEVELS[level]
        # The gutter is "<number>  "; the first of its two spaces takes the marker,
        # keeping the gutter's background (it differs on the cursor line).
        at = self.gutter_width - 2
        under = strip.crop(at, at + 1)
        base = next((s.style for s in under if s.style is not None), None)
        marker = Segment(glyph, (base or Style()) + colour)
        return Strip.join([strip.crop(0, at), Strip([marker], 1), strip.crop(at + 1)])


class DockerfileEditor(Vertical):
    """Edits a Dockerfile and shows its lint findings; ctrl+s posts `SaveRequested`."""

    DEFAULT_CSS = """
    DockerfileEditor { height: 1fr; }
    DockerfileEditor > DockerfileTextArea { height: 1fr; }
    DockerfileEditor > #lint-panel {
        height: auto; max-height: 8;
        border: round $panel; border-title-color: $text-muted;
    }
    DockerfileEditor.-stale > #lint-panel { border-title-color: $warning; }
    """

    BINDINGS = [Binding("ctrl+s", "save", "Save")]

    @dataclass
    class Changed(Message):
        """Posted when the text starts or stops differing from the loaded version."""

        dirty: bool

    @dataclass
    class SaveRequested(Message):
        """Posted on ctrl+s; the screen saves `content` (this widget has no network)."""

        content: str

    def __init__(self, *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        # Built here, not in compose, so load()/read_only work before mounting.
        self._text_area = DockerfileTextArea(read_only=read_only, id="dockerfile-text")
        self._panel = OptionList(id="lint-panel")
        self._saved = ""
        self._dirty = False
        self._version: int | None = None
        self._findings: list[Finding] = []
        self._update_panel_title()

    def compose(self) -> ComposeResult:
        yield self._text_area
        yield self._panel

    @property
    def text_area(self) -> DockerfileTextArea:
        """The editor itself (e.g. to focus it)."""
        return self._text_area

    @property
    def text(self) -> str:
        """The current (possibly unsaved) text."""
        return self._text_area.text

    @property
    def is_dirty(self) -> bool:
        """True when the text differs from what was last loaded."""
        return self.text != self._saved

    @property
    def version(self) -> int | None:
        """The server version the loaded text came from (None for a new file)."""
        return self._version

    @property
    def findings(self) -> list[Finding]:
        """The current findings, sorted by line."""
        return list(self._findings)

    @property
    def read_only(self) -> bool:
        """When True (no write permission), typing and saving are blocked."""
        return self._text_area.read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self._text_area.read_only = value
        self.refresh_bindings()  # Hide "Save" from the footer.

    def load(self, content: str, findings: Sequence[LintFinding], version: int | None) -> None:
        """Show `content` as the saved version, with the findings computed for it."""
        self._saved = content
        self._version = version
        self._text_area.load_text(content)
        self.set_findings(findings)
        self._sync_dirty()

    def set_findings(self, findings: Sequence[LintFinding]) -> None:
        """Replace the lint findings."""
        self._findings = sorted(
            (Finding.from_dict(f) for f in findings), key=lambda f: (f.line, f.code)
        )
        self._text_area.set_markers(self._findings)
        self._panel.clear_options()
        self._panel.add_options(self._row(f) for f in self._findings)
        self._update_panel_title()

    @staticmethod
    def _row(finding: Finding) -> Text:
        _, colour, _ = _LEVELS[finding.level]
        return Text.assemble(
            f"L{finding.line} {finding.code} ",
            (finding.level, colour),
            f": {finding.message}",
        )

    def _update_panel_title(self) -> None:
        count = len(self._findings)
        title = f"Lint: {count} finding{'s' * (count != 1)}" if count else "Lint: no findings"
        # Line numbers refer to the saved text; after edits they may be off, so say so.
        if self._dirty and count:
            title += " (from the saved version)"
        self._panel.border_title = title
        self.set_class(self._dirty and bool(count), "-stale")

    def _sync_dirty(self) -> None:
        dirty = self.is_dirty
        if dirty != self._dirty:
            self._dirty = dirty
            self._update_panel_title()
            self.post_message(self.Changed(dirty))

    @on(TextArea.Changed, "#dockerfile-text")
    def _text_changed(self) -> None:
        self._sync_dirty()

    @on(OptionList.OptionSelected, "#lint-panel")
    def _finding_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        finding = self._findings[event.option_index]
        last_row = self._text_area.document.line_count - 1
        row = min(max(finding.line - 1, 0), last_row)
        self._text_area.move_cursor((row, 0), center=True)
        self._text_area.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Saving is pointless without write permission; False also hides it from the footer.
        return not (action == "save" and self.read_only)

    def action_save(self) -> None:
        self.post_message(self.SaveRequested(self.text))
