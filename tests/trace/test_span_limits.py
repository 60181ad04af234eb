"""The bounds on each span sent over OTLP follow the settings (OpenTelemetry's span limits)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from home_idp.server.settings import TraceSettings
from home_idp.server.trace.otlp import JSON, OtlpRefused, SpanLimits, decode_request
from tests.trace.otlp_helpers import one_span_request


def decode(body: bytes, limits: SpanLimits) -> Any:
    return decode_request(
        body,
        content_type=JSON,
        content_encoding=None,
        max_bytes=1 << 20,
        max_spans=10,
        limits=limits,
    )


def string(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def test_the_limits_come_from_the_settings() -> None:
    settings = TraceSettings(
        span_attribute_count_limit=3,
        span_event_count_limit=4,
        event_attribute_count_limit=5,
        attribute_value_length_limit=6,
        max_span_inflation=7,
    )
    assert SpanLimits.of(settings) == SpanLimits(3, 4, 5, 6, 7)
    # OpenTelemetry's defaults, and no length limit.
    assert SpanLimits.of(TraceSettings()) == SpanLimits(128, 128, 128, None, 5)


def test_an_inflation_below_what_the_smallest_span_needs_is_refused() -> None:
    with pytest.raises(ValidationError):
        TraceSettings(max_span_inflation=3)


def test_long_values_are_cut_to_the_length_limit() -> None:
    body = one_span_request(
        attributes=[
            string("sql", "SELECT * FROM orders"),
            {"key": "raw", "value": {"bytesValue": "AAECAwQFBgcICQ=="}},
            {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "abcdefgh"}]}}},
        ],
        events=[{"name": "log", "attributes": [string("line", "a long log line")]}],
    )
    [record] = decode(body, SpanLimits(attribute_value_length=6)).records
    assert record.attributes == {
        "home_idp.project": "web",
        "sql": "SELECT",
        "raw": "AAECAwQF",  # six bytes, in base64
        "list": ["abcdef"],
    }
    assert record.events[0]["attributes"] == {"line": "a long"}


@pytest.mark.parametrize(
    ("span", "says"),
    [
        ({"attributes": [string(f"k{n}", "v") for n in range(3)]}, "more than 2 attributes"),
        ({"events": [{"name": f"e{n}"} for n in range(3)]}, "more than 2 events"),
        (
            {"events": [{"name": "e", "attributes": [string(f"k{n}", "v") for n in range(3)]}]},
            "an event of span eee19b7ec3c1b174 has more than 2 attributes",
        ),
    ],
    ids=["attributes", "events", "event-attributes"],
)
def test_more_than_the_count_limits_is_refused(span: dict[str, Any], says: str) -> None:
    limits = SpanLimits(attribute_count=2, event_count=2, event_attribute_count=2)
    with pytest.raises(OtlpRefused) as refused:
        decode(one_span_request(**span), limits)
    assert refused.value.status == 400
    assert says in refused.value.message


def test_a_larger_inflation_keeps_more() -> None:
    body = one_span_request(events=[{}] * 100)
    tight = decode(body, SpanLimits(inflation=5))
    loose = decode(body, SpanLimits(inflation=50))
    assert tight.dropped_events > 0 and loose.dropped_events == 0
    assert len(loose.records[0].events) == 100
    assert tight.warning == (
        f"dropped 0 attributes and {tight.dropped_events} events from 1 span(s): "
        "a span is stored in at most 5 times its size on the wire"
    )
    assert loose.warning == ""
