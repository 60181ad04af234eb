"""Text snapshots of dashboard screens: what a user sees, cell for cell.

A screen is rendered to its lines of text (colours are left out: they come
from the theme) and compared with `snapshots/<name>.txt`. Values that change
from run to run (ports, times, ages, durations) are normalised first: each is
replaced by a placeholder that, with the spaces after it, keeps the width the
value had, so borders and columns stay where the user sees them and a value
of another width in a fixed-width cell reads the same. Run with
`HOME_IDP_UPDATE_SNAPSHOTS=1` to write new snapshots after a deliberate change,
then read the diff before committing it.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot

__all__ = ["assert_snapshot", "screen_text"]

FOLDER = Path(__file__).parent / "snapshots"

_VOLATILE = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\.localhost:\d+"), ".localhost:PORT"),  # an app's address
    # ISO 8601 times as the server sends them, and as tables show them ("YYYY-MM-DD hh:mm:ss").
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        "YYYY-MM-DD hh:mm:ss",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "YYYY-MM-DD"),
    (re.compile(r"\b\d+[smhd] ago\b"), "N ago"),
    (re.compile(r"\b\d+m\d{2}s\b"), "N s"),  # durations of a minute or more: 2m05s
    (re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b"), "N s"),
)
# Each value is matched with the spaces after it, which absorb the placeholder's
# difference in width.
_WITH_SPACES = tuple(
    (re.compile(f"(?:{pattern.pattern})(?P<spaces> *)"), placeholder)
    for pattern, placeholder in _VOLATILE
)


def screen_text(app: App[None]) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def _placeholder(placeholder: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        width = len(match.group(0))
        # Keep one space after the value if it had any, even when the placeholder is wider.
        gap = 1 if match.group("spaces") else 0
        return placeholder + " " * max(width - len(placeholder), gap)

    return replace


def _normalise(text: str) -> str:
    lines = []
    for line in text.splitlines():
        for pattern, placeholder in _WITH_SPACES:
            line = pattern.sub(_placeholder(placeholder), line)
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


async def assert_snapshot(pilot: Pilot[None], name: str, seconds: float = 10.0) -> None:
    """The screen settles on the snapshot `name` within `seconds`.

    A screen that has its data can still be laying it out (a table sizes its
    columns to new rows when it is next idle, and a reload refills it): the
    comparison is made again until the screen matches, and fails with the
    last difference if it never does.
    """
    path = FOLDER / f"{name}.txt"
    if os.environ.get("HOME_IDP_UPDATE_SNAPSHOTS") == "1":
        await pilot.pause(0.5)
        FOLDER.mkdir(exist_ok=True)
        path.write_text(_normalise(screen_text(pilot.app)))
        return
    assert path.exists(), f"no snapshot {path.name}; run with HOME_IDP_UPDATE_SNAPSHOTS=1"
    expected = path.read_text()
    deadline = time.monotonic() + seconds
    while (actual := _normalise(screen_text(pilot.app))) != expected:
        if time.monotonic() > deadline:
            diff = "\n".join(
                difflib.unified_diff(
                    expected.splitlines(), actual.splitlines(), "snapshot", "screen", lineterm=""
                )
            )
            raise AssertionError(f"the screen differs from {path.name}:\n{diff}")
        await pilot.pause(0.1)
