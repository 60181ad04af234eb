"""Log lines quoted in an error, marked so the API can keep them from those who
may not read logs.

An error says why a release failed, and is shown to everyone who may read the
release; the app's or the build's last lines, which often say it best, are
the app's output, which only those who may read logs see elsewhere. Quoted
between ⟨ and ⟩ (never inside a quoted line), they are easy to take out again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["HIDDEN_LOG_LINES", "has_log_lines", "hide_log_lines", "quote_log_lines"]

_OPEN, _CLOSE = "\u27e8", "\u27e9"  # ⟨ and ⟩
_QUOTED = re.compile(f"{_OPEN}[^{_OPEN}{_CLOSE}]*{_CLOSE}")
HIDDEN_LOG_LINES = f"{_OPEN}log lines: reading them needs the right to read logs{_CLOSE}"


def quote_log_lines(lines: Iterable[str], separator: str = " | ") -> str:
    """`lines` joined by `separator`, marked as log lines."""
    text = separator.join(line.replace(_OPEN, "<").replace(_CLOSE, ">") for line in lines)
    return f"{_OPEN}{text}{_CLOSE}"


def hide_log_lines(text: str) -> str:
    """`text` with every quote of log lines replaced by a note that they are hidden."""
    return _QUOTED.sub(HIDDEN_LOG_LINES, text)


def has_log_lines(text: str) -> bool:
    return _QUOTED.search(text) is not None
