"""A release as one trace: a root span, a span per step, a span per webhook.

Ids are chosen ahead: the trace and root span when the release is created,
a step's span when the step starts. Spans are emitted when they end, from
the rows' own times, so a release that waits an hour for a webhook, or is
finished by another replica, is still one whole trace. Emitting the same
span again (a transaction that is run again) replaces it in the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry.trace import SpanKind

from home_idp.plugins.support.tracing import step_span_context
from home_idp.server.pipeline.models import Release, ReleaseEvent, ReleaseStatus, ReleaseStep
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.trace.records import (
    APP_ATTRIBUTE,
    PROJECT_ATTRIBUTE,
    RELEASE_ATTRIBUTE,
    unix_ns,
)
from home_idp.server.trace.tracing import EndedSpan, Tracing, new_span_id, new_trace_id

__all__ = ["ReleaseTracer", "WebhookReceipt"]

# Step detail worth keeping on the step's span.
_DETAIL_ATTRIBUTES = (
    "sha",
    "path",
    "image",
    "digest",
    "advanced_by",
    "delivery",
    "reused",
    "replaced",
    "watched_seconds",
    "overtaken_by",
)


@dataclass(frozen=True)
class WebhookReceipt:
    """The webhook delivery that advanced a waiting step."""

    source: str
    event: str
    delivery_id: str
    received_at: datetime

    @property
    def span_name(self) -> str:
        return f"webhook {self.source} {self.event}"

    def attributes(self) -> dict[str, Any]:
        return {
            "home_idp.webhook.source": self.source,
            "home_idp.webhook.event": self.event,
            "home_idp.webhook.delivery_id": self.delivery_id,
        }


class ReleaseTracer:
    """Emits the spans of releases and steps through the server's tracer provider."""

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    @staticmethod
    def begin_release(release: Release) -> None:
        """Choose the release's trace and root span ids (saved with the release)."""
        release.trace_id = new_trace_id()
        release.span_id = new_span_id()

    @staticmethod
    def begin_step(step: ReleaseStep) -> None:
        """Choose the span id of a step that starts (kept across its attempts)."""
        step.span_id = step.span_id or new_span_id()

    @contextmanager
    def step_context(self, release: Release, step: ReleaseStep) -> Iterator[None]:
        """Run a step's work with its span as the parent of any span started inside."""
        if not release.trace_id or not step.span_id:
            yield
            return
        with step_span_context(
            self._tracing.provider,
            int(release.trace_id, 16),
            int(step.span_id, 16),
            _placing_attributes(release),
        ):
            yield

    async def step_ended(self, release: Release, step: ReleaseStep) -> None:
        """Emit a finished step's span, with its events (attempts, waits, retries)."""
        if not release.trace_id or not step.span_id or step.started_at is None:
            return
        ended = step.finished_at or utcnow()
        events = await ReleaseEvent.filter(
            release_id=release.id, step=step.name, created_at__gte=step.started_at
        ).order_by("id")
        attributes = {
            **_release_attributes(release),
            "home_idp.step": step.name,
            "home_idp.step.attempts": step.attempts,
            "home_idp.step.state": step.state.value,
        }
        for key in _DETAIL_ATTRIBUTES:
            value = step.detail.get(key)
            if isinstance(value, str | bool | int | float):
                attributes[f"home_idp.step.{key}"] = value
        self._tracing.emit(
            EndedSpan(
                name=step.name,
                trace_id=release.trace_id,
                span_id=step.span_id,
                parent_span_id=release.span_id,
                start_ns=unix_ns(step.started_at),
                end_ns=unix_ns(ended),
                attributes=attributes,
                status=_status(step.state.value),
                message=step.error or "",
                events=[
                    (
                        f"{event.state}: {event.message}" if event.message else event.state,
                        unix_ns(event.created_at),
                        {},
                    )
                    for event in events
                ],
            )
        )

    def release_ended(self, release: Release) -> None:
        """Emit the root span of a release that reached its end."""
        if not release.trace_id or not release.span_id:
            return
        attributes = {
            **_release_attributes(release),
            "home_idp.release.trigger": release.trigger,
            "home_idp.release.created_by": release.created_by,
            "home_idp.release.status": release.status.value,
        }
        if release.rolled_back_by_id is not None:
            # The release home-idp started to undo this one (its error says which).
            attributes["home_idp.release.rolled_back_by"] = release.rolled_back_by_id
        self._tracing.emit(
            EndedSpan(
                name=f"release {release.app.project.name}/{release.app.name} #{release.number}",
                trace_id=release.trace_id,
                span_id=release.span_id,
                parent_span_id=None,
                start_ns=unix_ns(release.created_at),
                end_ns=unix_ns(release.finished_at or utcnow()),
                attributes=attributes,
                kind=SpanKind.SERVER,
                status=_status(release.status.value),
                message=release.error or "",
            )
        )

    def webhook_advanced(
        self, release: Release, step: ReleaseStep, receipt: WebhookReceipt
    ) -> None:
        """Emit the span of a webhook delivery that moved a waiting step on."""
        if not release.trace_id or not step.span_id:
            return
        self._tracing.emit(
            EndedSpan(
                name=receipt.span_name,
                trace_id=release.trace_id,
                span_id=new_span_id(),
                parent_span_id=step.span_id,
                start_ns=unix_ns(receipt.received_at),
                end_ns=unix_ns(utcnow()),
                kind=SpanKind.SERVER,
                attributes={
                    **_release_attributes(release),
                    "home_idp.step": step.name,
                    **receipt.attributes(),
                },
                status="ok",
            )
        )


def _placing_attributes(release: Release) -> dict[str, Any]:
    """What places a span in the release's project, app and release."""
    return {
        PROJECT_ATTRIBUTE: release.app.project.name,
        APP_ATTRIBUTE: release.app.name,
        RELEASE_ATTRIBUTE: release.number,
    }


def _release_attributes(release: Release) -> dict[str, Any]:
    attributes = {**_placing_attributes(release), "home_idp.release.id": release.id}
    for key, value in (
        ("home_idp.image", release.image),
        ("home_idp.digest", release.digest),
        ("home_idp.commit_sha", release.commit_sha),
        ("home_idp.manifests_sha", release.manifests_sha),
    ):
        if value:
            attributes[key] = value
    return attributes


def _status(state: str) -> str:
    if state == ReleaseStatus.SUCCEEDED.value:
        return "ok"
    if state == ReleaseStatus.FAILED.value:
        return "error"
    return "unset"  # cancelled, or still going
