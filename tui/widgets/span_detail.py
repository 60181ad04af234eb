"""The highlighted span of a waterfall: timing, status and attributes."""

from __future__ import annotations

import json

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from home_idp.tui.dialogs import TextViewDialog
from home_idp.tui.results import TraceSpan
from home_idp.tui.widgets.formatting import duration, safe_text

__all__ = ["SpanDetail", "span_dialog"]


class SpanDetail(Static):
    """Set `span` to show it."""

    span: reactive[TraceSpan | None] = reactive(None)

    def watch_span(self, span: TraceSpan | None) -> None:
        if span is None:
            self.update("Highlight a span to see it here.")
            return
        status = str(span.get("status", ""))
        lines = [
            safe_text(span["name"], "bold"),
            safe_text(f"{duration(float(span.get('durationMs', 0)))} · {status.lower()}"),
            safe_text(f"service {span.get('serviceName', '')}"),
            safe_text(f"span {span['spanId']}"),
        ]
        if span.get("statusMessage"):
            lines.append(safe_text(span["statusMessage"], "red"))
        attributes = span.get("attributes")
        for key, value in sorted(attributes.items() if isinstance(attributes, dict) else []):
            text = value if isinstance(value, str) else json.dumps(value)
            lines.append(Text.assemble(safe_text(key, "dim"), " ", safe_text(text)))
        self.update(Text("\n").join(lines))


def span_dialog(span: TraceSpan) -> TextViewDialog:
    """All of a span (enter on a waterfall row), as JSON."""
    return TextViewDialog(str(span.get("name", "span")), json.dumps(span, indent=2), "json")
