"""Text snapshots of dashboard screens: what a user sees, cell for cell.

A screen is rendered to its lines of text (colours are left out: they come
from the theme) and compared with `snapshots/<name>.txt`. Values that change
from run to run (ports, ages, durations) are normalised first. Run with
`HOME_IDP_UPDATE_SNAPSHOTS=1` to write new snapshots after a deliberate change,
then read the diff before committing it.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from textual.app import App

__all__ = ["assert_snapshot", "screen_text"]

FOLDER = Path(__file__).parent / "snapshots"

_VOLATILE = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\b\d+[smhd] ago\b"), "N ago"),
    (re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b"), "N s"),
)


def screen_text(app: App[None]) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def _normalise(text: str) -> str:
    lines = []
    for line in text.splitlines():
        changed = line
        for pattern, replacement in _VOLATILE:
            changed = pattern.sub(replacement, changed)
        if changed != line:
            # The replacement's width differs from the value's: squeeze the padding.
            changed = re.sub(r" {2,}", "  ", changed)
        lines.append(changed.rstrip())
    return "\n".join(lines) + "\n"


def assert_snapshot(app: App[None], name: str) -> None:
    actual = _normalise(screen_text(app))
    path = FOLDER / f"{name}.txt"
    if os.environ.get("HOME_IDP_UPDATE_SNAPSHOTS") == "1":
        FOLDER.mkdir(exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), f"no snapshot {path.name}; run with HOME_IDP_UPDATE_SNAPSHOTS=1"
    expected = path.read_text()
    if actual != expected:
        diff = "\n".join(
            difflib.unified_diff(
                expected.splitlines(), actual.splitlines(), "snapshot", "screen", lineterm=""
            )
        )
        raise AssertionError(f"the screen differs from {path.name}:\n{diff}")
