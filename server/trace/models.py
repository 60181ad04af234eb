"""Trace data: one row per span, in the OpenTelemetry model."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = ["Span"]


class Span(Model):
    # The id counts up in insertion order: live subscribers resume from it.
    id = fields.BigIntField(primary_key=True)
    # Looked up through the (trace_id, span_id) unique index.
    trace_id = fields.CharField(max_length=32)
    span_id = fields.CharField(max_length=16)
    parent_span_id = fields.CharField(max_length=16, null=True)
    name = fields.CharField(max_length=512)
    kind = fields.CharField(max_length=12)
    start_ns = fields.BigIntField(db_index=True)
    end_ns = fields.BigIntField()
    status = fields.CharField(max_length=8)
    status_message = fields.TextField(default="")
    attributes: dict[str, Any] = fields.JSONField(default=dict)
    # [{"name": ..., "time_ns": ..., "attributes": {...}}]
    events: list[dict[str, Any]] = fields.JSONField(default=list)
    service_name = fields.CharField(max_length=255, default="")
    # Who may see the span: members of its project (admins only when null).
    project = fields.CharField(max_length=63, null=True, db_index=True)
    app = fields.CharField(max_length=63, null=True)

    class Meta:
        table = "span"
        unique_together = (("trace_id", "span_id"),)
