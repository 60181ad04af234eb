"""How server data reads on screen: safe text, times, durations and states.

Everything the server sends may hold text its users chose (names, messages,
log lines, webhook headers, span attributes, even a failed login's username).
It is shown through `safe_text`, never as Textual or Rich markup, so a "[/x]"
cannot crash the dashboard or restyle it, and control characters cannot
reach the terminal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.text import Text

__all__ = [
    "STATE_STYLE",
    "ago",
    "clean",
    "duration",
    "releases_started",
    "safe_text",
    "stamp",
    "state_label",
]

# Terminal control sequences (colours, cursor moves) and other control characters
# would corrupt the dashboard's own screen; tabs become spaces.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|[\x00-\x08\x0b-\x1f\x7f]")


def clean(value: object) -> str:
    """A value as it may be shown: no control sequences, tabs expanded."""
    return _CONTROL.sub("", str(value).expandtabs(8))


def safe_text(value: object, style: str = "") -> Text:
    """Server data as plain text (never markup), optionally styled."""
    return Text(clean(value), style=style)


def stamp(timestamp: object) -> str:
    """An ISO 8601 time the server sent, as 'YYYY-MM-DD HH:MM:SS' (UTC as sent)."""
    return clean(timestamp or "—")[:19].replace("T", " ")


STATE_STYLE = {
    "RUNNING": "bold yellow",
    "WAITING": "yellow",
    "PENDING": "dim",
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "CANCELLED": "magenta",
}

_STATE_MARK = {
    "RUNNING": "◐",
    "WAITING": "◔",
    "PENDING": "·",
    "SUCCEEDED": "✔",
    "FAILED": "✖",
    "CANCELLED": "○",
}


def state_label(state: str) -> Text:
    """A state with its mark, coloured."""
    return safe_text(f"{_STATE_MARK.get(state, '?')} {state.lower()}", STATE_STYLE.get(state, ""))


def duration(milliseconds: float | None) -> str:
    if milliseconds is None:
        return "—"
    seconds = milliseconds / 1000
    if seconds < 1:
        return f"{milliseconds:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def ago(timestamp: str | None, now: datetime | None = None) -> str:
    """'3m ago' from an ISO 8601 time the server sent."""
    if not timestamp:
        return "—"
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def releases_started(releases: list[dict[str, object]], idle: str) -> str:
    """What a config change set off: "release #4 started", or `idle` when nothing runs."""
    if not releases:
        return idle
    numbers = ", ".join(f"#{r['number']}" for r in releases)
    return f"release {numbers} started" if len(releases) == 1 else f"releases {numbers} started"
