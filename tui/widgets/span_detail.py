"""The highlighted span of a waterfall: timing, status and attributes."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from textual.reactive import reactive
from textual.widgets import Static

from home_idp.tui.widgets.formatting import duration

__all__ = ["SpanDetail"]


class SpanDetail(Static):
    """Set `span` (a GraphQL Span as a dict) to show it."""

    span: reactive[dict[str, Any] | None] = reactive(None)

    def watch_span(self, span: dict[str, Any] | None) -> None:
        if span is None:
            self.update("Highlight a span to see it here.")
            return
        status = str(span.get("status", ""))
        lines = [
            f"[b]{escape(str(span['name']))}[/b]",
            f"{duration(float(span.get('durationMs', 0)))} · {status.lower()}",
            f"service {escape(str(span.get('serviceName', '')))}",
            f"span {span['spanId']}",
        ]
        if span.get("statusMessage"):
            lines.append(f"[red]{escape(str(span['statusMessage']))}[/red]")
        for key, value in sorted((span.get("attributes") or {}).items()):
            text = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"[dim]{escape(key)}[/dim] {escape(text)}")
        self.update("\n".join(lines))
