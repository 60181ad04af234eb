"""A span as home-idp stores it, whichever way it came in (own SDK or OTLP)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "APP_ATTRIBUTE",
    "PROJECT_ATTRIBUTE",
    "RELEASE_ATTRIBUTE",
    "SPAN_COLUMNS",
    "SPAN_KINDS",
    "SPAN_STATUSES",
    "InvalidSpan",
    "SpanRecord",
    "checked_id",
    "stored_json",
    "unix_ns",
]

# Attributes that place a span in a project (and app): its visibility.
PROJECT_ATTRIBUTE = "home_idp.project"
APP_ATTRIBUTE = "home_idp.app"
RELEASE_ATTRIBUTE = "home_idp.release"

# The span table's columns as `SpanRecord.row` gives their values.
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "status",
    "status_message",
    "attributes",
    "events",
    "service_name",
    "project",
    "app",
)
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
SPAN_STATUSES = ("unset", "ok", "error")

_MAX_NAME = 512
_MAX_SERVICE = 255
_MAX_LABEL = 63
# A span's attributes and events together, as stored JSON.
_MAX_DETAIL_BYTES = 64 * 1024


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unix_ns(moment: datetime) -> int:
    """Unix nanoseconds, exactly (a float timestamp would round the microseconds).

    A time without a zone is taken as UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class InvalidSpan(ValueError):
    """A span that cannot be stored as it is; the message says which and why."""


_HEX_IDS = {16: re.compile("[0-9a-f]{16}"), 32: re.compile("[0-9a-f]{32}")}
# One encoder for every span: json.dumps with options makes a new one per call.
_JSON = json.JSONEncoder(default=str, separators=(",", ":"), allow_nan=False)
_MAX_TIME_NS = 2**63 - 1  # a signed 64-bit column
_MAX_MESSAGE = 4096
# Attributes that decide who may see a span: never dropped to fit a budget.
_PLACING = (PROJECT_ATTRIBUTE, APP_ATTRIBUTE)


def stored_json(value: object) -> str:
    """`value` as the span table keeps it: compact JSON, without NUL characters.

    Postgres jsonb cannot hold NUL; its escape and the one put in its place
    have the same length, so a size measured here is the size stored.
    """
    return _JSON.encode(value).replace("\\u0000", "\\ufffd")


def checked_id(value: str, length: int, what: str) -> str:
    """A lowercase hex id of `length` (16 or 32) digits that is not all zeros, or InvalidSpan."""
    lowered = value.lower()
    if not _HEX_IDS[length].fullmatch(lowered) or not lowered.strip("0"):
        raise InvalidSpan(f"{what} must be {length} hex digits, not all zero")
    return lowered


@dataclass
class SpanRecord:
    """One finished span: ids as lowercase hex, times in Unix nanoseconds."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str = "unset"
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    service_name: str = ""
    project: str | None = None
    app: str | None = None
    # At most this many bytes as stored (see `stored_bytes`): attributes and
    # then events beyond it are dropped, the last ones first. None: no bound.
    max_stored_bytes: int | None = field(default=None, repr=False)
    # The attributes and events as stored JSON, made by __post_init__.
    attributes_json: str = field(default="", init=False, repr=False)
    events_json: str = field(default="", init=False, repr=False)
    # How many attributes and events `max_stored_bytes` left out.
    dropped_attributes: int = field(default=0, init=False)
    dropped_events: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.trace_id = checked_id(self.trace_id, 32, "traceId")
        self.span_id = checked_id(self.span_id, 16, "spanId")
        if self.parent_span_id:
            self.parent_span_id = checked_id(self.parent_span_id, 16, "parentSpanId")
        else:
            self.parent_span_id = None
        where = f"span {self.span_id}"
        if not self.name:
            raise InvalidSpan(f"{where} has no name")
        if self.kind not in SPAN_KINDS:
            raise InvalidSpan(f"{where} has an unknown kind {self.kind!r}")
        if self.status not in SPAN_STATUSES:
            raise InvalidSpan(f"{where} has an unknown status {self.status!r}")
        if self.start_ns <= 0 or self.end_ns < self.start_ns:
            raise InvalidSpan(f"{where} ends before it starts, or has no start time")
        if self.end_ns > _MAX_TIME_NS:
            raise InvalidSpan(f"{where} ends after the year 2262")
        self.name = _storable(self.name)[:_MAX_NAME]
        self.status_message = _storable(self.status_message)[:_MAX_MESSAGE]
        self.service_name = _storable(self.service_name)[:_MAX_SERVICE]
        self.project = self.project or _label(self.attributes.get(PROJECT_ATTRIBUTE))
        self.app = self.app or _label(self.attributes.get(APP_ATTRIBUTE))
        # Encoded once: for the size checks here and for the row stored later.
        try:
            self.attributes_json = stored_json(self.attributes)
            self.events_json = stored_json(self.events)
            if self.max_stored_bytes is not None and self.stored_bytes > self.max_stored_bytes:
                self._fit(self.max_stored_bytes)
        except ValueError:
            raise InvalidSpan(f"{where} has an attribute that is not a finite number") from None
        detail = len(self.attributes_json) + len(self.events_json)
        if detail > _MAX_DETAIL_BYTES:
            raise InvalidSpan(
                f"{where} carries {detail} bytes of attributes and events "
                f"(at most {_MAX_DETAIL_BYTES})"
            )

    @property
    def stored_bytes(self) -> int:
        """The row's size as stored: its text in UTF-8 bytes, 8 bytes per number.

        A span without a project yet may still join its trace's: room is kept for one.
        """
        # Ids, kind, status and the JSON (which escapes all but ASCII) are ASCII.
        ascii_texts = (
            len(self.trace_id)
            + len(self.span_id)
            + len(self.parent_span_id or "")
            + len(self.kind)
            + len(self.status)
            + len(self.attributes_json)
            + len(self.events_json)
        )
        texts = (self.name, self.status_message, self.service_name, self.project, self.app)
        other_texts = sum(len(text.encode()) for text in texts if text)
        return ascii_texts + other_texts + (0 if self.project else _MAX_LABEL) + 2 * 8

    def _fit(self, limit: int) -> None:
        """Keep the attributes, then the events, in order, while the row fits in `limit` bytes.

        The attributes that place the span are always kept: dropping one
        would move the span to another project. JSON of the kept items joined with commas
        is the JSON of the whole, so each item is encoded once.
        """
        room = limit - (self.stored_bytes - len(self.attributes_json) - len(self.events_json))
        kept: dict[str, Any] = {}
        pieces: list[str] = []
        for key in _PLACING:
            if _label(self.attributes.get(key)) is not None:
                kept[key] = self.attributes[key]
                pieces.append(f"{stored_json(key)}:{stored_json(kept[key])}")
        room -= 2 + sum(len(piece) + 1 for piece in pieces)
        full = False
        for key, value in self.attributes.items():
            if key in kept:
                continue
            piece = "" if full else f"{stored_json(key)}:{stored_json(value)}"
            if full or len(piece) + 1 > room:
                full = True
                self.dropped_attributes += 1
                continue
            kept[key] = value
            pieces.append(piece)
            room -= len(piece) + 1
        self.attributes = kept
        self.attributes_json = "{" + ",".join(pieces) + "}"
        room -= 2
        events: list[dict[str, Any]] = []
        pieces = []
        for event in self.events:
            piece = stored_json(event)
            if len(piece) + 1 > room:
                self.dropped_events = len(self.events) - len(events)
                break
            events.append(event)
            pieces.append(piece)
            room -= len(piece) + 1
        self.events = events
        self.events_json = "[" + ",".join(pieces) + "]"

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def row(self) -> list[object]:
        """The values of `SPAN_COLUMNS`, ready for the database."""
        return [
            self.trace_id,
            self.span_id,
            self.parent_span_id,
            self.name,
            self.kind,
            self.start_ns,
            self.end_ns,
            self.status,
            self.status_message,
            self.attributes_json,
            self.events_json,
            self.service_name,
            self.project,
            self.app,
        ]


def _label(value: object) -> str | None:
    """A project or app name from an attribute; anything else places nothing."""
    if isinstance(value, str) and 0 < len(value) <= _MAX_LABEL:
        return value
    return None


def _storable(text: str) -> str:
    # Postgres text cannot hold NUL characters.
    return text.replace("\x00", "\ufffd")
