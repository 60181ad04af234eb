"""A span as home-idp stores it, whichever way it came in (own SDK or OTLP)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from home_idp.server.trace.models import Span

__all__ = [
    "APP_ATTRIBUTE",
    "PROJECT_ATTRIBUTE",
    "RELEASE_ATTRIBUTE",
    "SPAN_KINDS",
    "SPAN_STATUSES",
    "InvalidSpan",
    "SpanRecord",
    "checked_id",
    "unix_ns",
]

# Attributes that place a span in a project (and app): its visibility.
PROJECT_ATTRIBUTE = "home_idp.project"
APP_ATTRIBUTE = "home_idp.app"
RELEASE_ATTRIBUTE = "home_idp.release"

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
SPAN_STATUSES = ("unset", "ok", "error")

_MAX_NAME = 512
_MAX_SERVICE = 255
_MAX_LABEL = 63
# A span's attributes and events together, as stored JSON.
_MAX_DETAIL_BYTES = 64 * 1024


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unix_ns(moment: datetime) -> int:
    """Unix nanoseconds, exactly (a float timestamp would round the microseconds)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class InvalidSpan(ValueError):
    """A span that cannot be stored as it is; the message says which and why."""


def checked_id(value: str, length: int, what: str) -> str:
    """A lowercase hex id of `length` digits that is not all zeros, or InvalidSpan."""
    lowered = value.lower()
    if len(lowered) != length or lowered.strip("0123456789abcdef") or not lowered.strip("0"):
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
        encoded = json.dumps([self.attributes, self.events], default=str)
        detail = len(encoded)
        if detail > _MAX_DETAIL_BYTES:
            raise InvalidSpan(
                f"{where} carries {detail} bytes of attributes and events "
                f"(at most {_MAX_DETAIL_BYTES})"
            )
        if "\\u0000" in encoded:
            self.attributes, self.events = json.loads(encoded.replace("\\u0000", "\\ufffd"))
        self.name = _storable(self.name)[:_MAX_NAME]
        self.status_message = _storable(self.status_message)
        self.service_name = _storable(self.service_name)[:_MAX_SERVICE]
        self.project = self.project or _label(self.attributes.get(PROJECT_ATTRIBUTE))
        self.app = self.app or _label(self.attributes.get(APP_ATTRIBUTE))

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def to_model(self) -> Span:
        return Span(
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            name=self.name,
            kind=self.kind,
            start_ns=self.start_ns,
            end_ns=self.end_ns,
            status=self.status,
            status_message=self.status_message,
            attributes=self.attributes,
            events=self.events,
            service_name=self.service_name,
            project=self.project,
            app=self.app,
        )


def _label(value: object) -> str | None:
    """A project or app name from an attribute; anything else places nothing."""
    if isinstance(value, str) and 0 < len(value) <= _MAX_LABEL:
        return value
    return None


def _storable(text: str) -> str:
    # Postgres text cannot hold NUL characters.
    return text.replace("\x00", "\ufffd")
