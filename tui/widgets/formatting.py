"""How server data reads on screen: safe text, times, durations and states.

Everything the server sends may hold text its users chose (names, messages,
log lines, webhook headers, span attributes, even a failed login's username).
It is shown through `safe_text`, never as Textual or Rich markup, so a "[/x]"
cannot crash the dashboard or restyle it, and control characters cannot
reach the terminal.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from rich.text import Text

from home_idp.tui.results import Release, SourceCommit, StartedRelease

__all__ = [
    "SHORT_SHA",
    "STATE_STYLE",
    "ago",
    "clean",
    "duration",
    "releases_started",
    "safe_text",
    "source_commit",
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
    # Overtaken by a newer push: nothing went wrong, so no alarm colour.
    "SUPERSEDED": "blue",
}

_STATE_MARK = {
    "RUNNING": "◐",
    "WAITING": "◔",
    "PENDING": "·",
    "SUCCEEDED": "✔",
    "FAILED": "✖",
    "CANCELLED": "○",
    "SUPERSEDED": "↷",
}


def state_label(state: str) -> Text:
    """A state with its mark, coloured."""
    return safe_text(f"{_STATE_MARK.get(state, '?')} {state.lower()}", STATE_STYLE.get(state, ""))


def release_state(release: Release, now: datetime | None = None) -> Text:
    """A release's state as people follow it: "verifying · 42 s left" while the app
    is watched after its rollout, and the release that rolled a failed one back."""
    label = state_label(release["status"])
    until = release["verifyUntil"]
    if release["status"] == "RUNNING" and until:
        end = datetime.fromisoformat(until)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        left = math.ceil((end - (now or datetime.now(UTC))).total_seconds())
        if left > 0:
            label = safe_text(f"◔ verifying · {left} s left", STATE_STYLE["RUNNING"])
    rollback = release["rolledBackBy"]
    if rollback is not None:
        label.append(f" ↩ rolled back by #{rollback['number']}", "yellow")
    return label


SHORT_SHA = 12
"""How many characters of a commit's sha are shown."""


def source_commit(commit: SourceCommit | None, *, message_width: int | None = None) -> Text:
    """A source commit as one line: short sha, its message's first line, its author."""
    if commit is None:
        return safe_text("—")
    line = safe_text(commit["sha"][:SHORT_SHA], "bold")
    subject = clean((commit["message"] or "").strip().split("\n", 1)[0]).strip()
    if message_width is not None and len(subject) > message_width:
        subject = subject[: max(message_width - 1, 0)].rstrip() + "…"
    if subject:
        line.append(f" {subject}")
    if commit["author"]:
        line.append(f" — {clean(commit['author'])}", "italic")
    return line


def duration(milliseconds: float | None) -> str:
    """A short human duration: "850 µs", "12 ms", "1.4 s", "2m05s", "1h02m"; "—" if unknown."""
    if milliseconds is None:
        return "—"
    if not math.isfinite(milliseconds) or milliseconds <= 0:
        return "0 ms"
    # Each unit is chosen on the rounded value, so 999.7 ms reads "1.0 s", not "1000 ms".
    if round(milliseconds * 1000) < 1000:
        return f"{milliseconds * 1000:.0f} µs"
    if round(milliseconds) < 1000:
        return f"{milliseconds:.0f} ms"
    if round(milliseconds / 1000, 1) < 60:
        return f"{milliseconds / 1000:.1f} s"
    seconds = round(milliseconds / 1000)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


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


def releases_started(releases: list[StartedRelease], idle: str) -> str:
    """What a config change set off: "release #4 started", or `idle` when nothing runs."""
    if not releases:
        return idle
    numbers = ", ".join(f"#{r['number']}" for r in releases)
    return f"release {numbers} started" if len(releases) == 1 else f"releases {numbers} started"
