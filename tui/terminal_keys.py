"""Alt and a digit as terminals send it: ESC, then the digit."""

from __future__ import annotations

from typing import cast

from textual import _ansi_sequences

__all__ = ["read_escape_digits_as_alt"]


def read_escape_digits_as_alt() -> None:
    """Make ESC 1 … ESC 0 the keys alt+1 … alt+0, which open the app's tabs.

    tmux, the Linux console, most SSH sessions and xterm send Alt as an ESC
    prefix. Textual reads ESC and a letter as alt and the letter, but ESC and a
    digit as the character macOS's Option key gives on WezTerm (ESC 2 is "™"),
    so Alt-2 typed ™ into the Dockerfile. Without those entries Textual reads
    the digits as it reads letters. Option-digit on a Mac that sends the
    character itself is unchanged: it still types it.
    """
    sequences = cast("dict[str, object]", _ansi_sequences.ANSI_SEQUENCES_KEYS)
    for digit in "1234567890":
        sequences.pop(f"\x1b{digit}", None)
