"""How times, durations and states read in tables."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["STATE_STYLE", "ago", "duration", "state_label"]

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


def state_label(state: str) -> str:
    """A state with its mark, as Rich markup."""
    style = STATE_STYLE.get(state, "")
    return f"[{style}]{_STATE_MARK.get(state, '?')} {state.lower()}[/]" if style else state


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
