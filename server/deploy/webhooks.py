"""Incoming webhooks: verified, de-duplicated, recorded, then acted on.

The recording helpers are shared by every source; this module also holds
the git source (push events of the platform repo) and the inspector.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.git.contract import GitPlugin
from home_idp.server.deploy.git_steps import steps_waiting_for
from home_idp.server.deploy.models import DeliveryOutcome, GitPush, WebhookDelivery
from home_idp.server.deploy.webhook_spans import receipt_of
from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.settings import WebhookSettings

__all__ = [
    "DeliveryFilter",
    "DeliveryInspector",
    "GitWebhooks",
    "WebhookProcessor",
    "WebhookResult",
    "advance_by_webhook",
    "finish_delivery",
    "record_accepted",
    "record_rejected",
    "storable",
]

log = logging.getLogger(__name__)

SOURCE_GIT = "git"
_ZERO_SHA = "0" * 40
# Headers worth showing in the inspector; the signature is left out on purpose.
_KEPT_HEADERS = ("x-github-event", "x-github-delivery", "x-github-hook-id", "user-agent")


def storable(value: str) -> str:
    """`value` made storable: Postgres text (and jsonb) cannot hold NUL characters."""
    return value.replace("\x00", "\ufffd")


async def record_rejected(
    record: dict[str, Any],
    detail: str,
    *,
    signed: bool = True,
    limits: WebhookSettings | None = None,
    outcome: DeliveryOutcome = DeliveryOutcome.REJECTED,
) -> None:
    """Record a delivery that is refused (or ignored unverified) before anything is
    done with it.

    Anyone may post such a delivery, so the oldest refused or unsigned ones
    beyond `limits` (count and age) are deleted as each new one is recorded:
    the table cannot grow without end however many unsigned posts arrive.
    """
    await WebhookDelivery.create(
        **record,
        signature_ok=signed,
        outcome=outcome,
        detail=storable(detail),
        processed_at=utcnow(),
    )
    await prune_rejected(limits or WebhookSettings())


async def prune_rejected(limits: WebhookSettings) -> None:
    """Delete refused or unsigned deliveries older than the age limit or beyond the
    count limit."""
    rejected = WebhookDelivery.filter(Q(outcome=DeliveryOutcome.REJECTED) | Q(signature_ok=False))
    cutoff = utcnow() - timedelta(hours=limits.rejected_max_age_hours)
    await rejected.filter(received_at__lt=cutoff).delete()
    # The newest `rejected_max_count` stay; ids grow with time.
    oldest_kept = (
        await rejected.order_by("-id")
        .offset(limits.rejected_max_count - 1)
        .limit(1)
        .values_list("id", flat=True)
    )
    if oldest_kept:
        await rejected.filter(id__lt=oldest_kept[0]).delete()


async def record_accepted(record: dict[str, Any], body: bytes) -> WebhookDelivery | None:
    """Record a signed delivery; None (and recorded as such) when it is a replay."""
    try:
        return await WebhookDelivery.create(
            **record,
            dedupe_key=f"{record['source']}:{record['delivery_id']}",
            signature_ok=True,
            outcome=DeliveryOutcome.ACCEPTED,
            # Kept for redelivery; a body that is not NUL-free UTF-8 is
            # no event of ours anyway, so its stored copy may differ.
            body=storable(body.decode("utf-8", errors="replace")),
        )
    except IntegrityError:
        await WebhookDelivery.create(
            **record,
            signature_ok=True,
            outcome=DeliveryOutcome.DUPLICATE,
            detail="this delivery id was seen before; ignored",
            processed_at=utcnow(),
        )
        return None


async def finish_delivery(
    delivery: WebhookDelivery, acting: Coroutine[Any, Any, WebhookResult]
) -> WebhookResult:
    """Run `acting` on a recorded delivery and record its outcome."""
    try:
        result = await acting
    except Exception:
        log.exception("%s webhook %s failed", delivery.source, delivery.delivery_id)
        result = WebhookResult(500, DeliveryOutcome.FAILED, "internal error; see the log")
    delivery.outcome = result.outcome
    delivery.detail = storable(result.detail)
    delivery.processed_at = utcnow()
    fields = ["outcome", "detail", "processed_at"]
    if result.outcome is DeliveryOutcome.FAILED and delivery.dedupe_key is not None:
        # The sender's retry of a delivery that failed here (GitHub's
        # redelivery keeps the delivery id) must be processed, not
        # ignored as a replay.
        delivery.dedupe_key = None
        fields.append("dedupe_key")
    await delivery.save(update_fields=fields)
    return result


async def advance_by_webhook(engine: Engine, step_id: int, delivery: WebhookDelivery) -> bool:
    """Move a waiting step on with the news of `delivery` (a span in the release's trace)."""
    return await engine.advance(
        step_id,
        {"advanced_by": "webhook", "delivery": delivery.delivery_id},
        receipt_of(delivery),
    )


@dataclass(frozen=True)
class WebhookResult:
    """What the gateway answers, and what was recorded."""

    status: int
    outcome: DeliveryOutcome
    detail: str


class GitWebhooks:
    """Handles push events of the platform repo (GitHub format, HMAC-signed)."""

    def __init__(
        self,
        git: GitPlugin,
        branch: str,
        engine: Engine,
        limits: WebhookSettings | None = None,
    ) -> None:
        self._git = git
        self._branch = branch
        self._engine = engine
        self.limits = limits or WebhookSettings()

    async def receive(
        self, headers: dict[str, str], body: bytes, *, signature: str | None
    ) -> WebhookResult:
        event = storable(headers.get("x-github-event", "")[:64])
        delivery_id = storable(headers.get("x-github-delivery", "")[:128])
        kept = {name: storable(headers[name][:200]) for name in _KEPT_HEADERS if name in headers}
        record: dict[str, Any] = {
            "source": SOURCE_GIT,
            "event": event,
            "delivery_id": delivery_id,
            "headers": kept,
        }
        if not self._git.verify_webhook(body, signature):
            await record_rejected(
                record, "missing or wrong X-Hub-Signature-256", signed=False, limits=self.limits
            )
            return WebhookResult(401, DeliveryOutcome.REJECTED, "bad signature")
        if not delivery_id or not event:
            await record_rejected(
                record, "missing X-GitHub-Event or X-GitHub-Delivery", limits=self.limits
            )
            return WebhookResult(400, DeliveryOutcome.REJECTED, "missing event or delivery id")
        delivery = await record_accepted(record, body)
        if delivery is None:
            return WebhookResult(200, DeliveryOutcome.DUPLICATE, "duplicate delivery ignored")
        return await self.process(delivery, event, body)

    async def process(self, delivery: WebhookDelivery, event: str, body: bytes) -> WebhookResult:
        """Act on a verified delivery and record the outcome on it."""
        return await finish_delivery(delivery, self._act(delivery, event, body))

    async def _act(self, delivery: WebhookDelivery, event: str, body: bytes) -> WebhookResult:
        if event == "ping":
            return WebhookResult(200, DeliveryOutcome.ACCEPTED, "pong")
        if event != "push":
            return WebhookResult(200, DeliveryOutcome.IGNORED, f"event {event!r} is not used")
        try:
            push = self._git.parse_push(body)
        except WebhookRejected as error:
            return WebhookResult(400, DeliveryOutcome.REJECTED, str(error))
        if push.repository != self._git.repository:
            return WebhookResult(
                200, DeliveryOutcome.IGNORED, f"not the platform repo ({push.repository[:100]})"
            )
        if push.branch != self._branch:
            return WebhookResult(
                200, DeliveryOutcome.IGNORED, f"not the platform branch ({push.ref[:100]})"
            )
        shas = {sha for sha in (push.after, *push.commits) if sha and sha != _ZERO_SHA}
        for sha in shas:
            # Another replica may record the same commit at the same moment.
            with contextlib.suppress(IntegrityError):
                await GitPush.get_or_create(sha=sha, defaults={"delivery": delivery})
        advanced = 0
        for step_id in await steps_waiting_for(shas):
            if await advance_by_webhook(self._engine, step_id, delivery):
                advanced += 1
        return WebhookResult(
            200, DeliveryOutcome.ACCEPTED, f"push of {push.after[:12]}; advanced {advanced} step(s)"
        )


@dataclass(frozen=True)
class DeliveryFilter:
    source: str | None = None
    event: str | None = None
    outcome: str | None = None
    delivery_id: str | None = None
    signature_ok: bool | None = None
    since: datetime | None = None


class WebhookProcessor(Protocol):
    """A webhook source that can act on a stored delivery again."""

    async def process(
        self, delivery: WebhookDelivery, event: str, body: bytes
    ) -> WebhookResult: ...


class DeliveryInspector:
    """Admins list deliveries and redeliver a signed one."""

    def __init__(self, authz: Authorizer, sources: Mapping[str, WebhookProcessor]) -> None:
        self._authz = authz
        self._sources = sources

    def list(self, delivery_filter: DeliveryFilter) -> QuerySet[WebhookDelivery]:
        self._authz.require_admin()
        outcomes = [outcome.value for outcome in DeliveryOutcome]
        if delivery_filter.outcome is not None and delivery_filter.outcome not in outcomes:
            raise ValidationFailed.for_field("outcome", f"must be one of {', '.join(outcomes)}")
        query = WebhookDelivery.all()
        for name in ("source", "event", "outcome", "delivery_id", "signature_ok"):
            value = getattr(delivery_filter, name)
            if value is not None:
                query = query.filter(**{name: value})
        if delivery_filter.since is not None:
            query = query.filter(received_at__gte=delivery_filter.since)
        return query

    async def get(self, delivery_id: int) -> WebhookDelivery:
        self._authz.require_admin()
        delivery = await WebhookDelivery.get_or_none(id=delivery_id)
        if delivery is None:
            raise NotFound("no such webhook delivery")
        return delivery

    async def redeliver(self, delivery_id: int) -> WebhookDelivery:
        """Process a stored, signed delivery again, as a new delivery that points at it."""
        self._authz.require_admin()
        self._authz.require_write()
        original = await self.get(delivery_id)
        if not original.signature_ok or original.body is None:
            raise Conflict("only deliveries with a valid signature can be redelivered")
        source = self._sources.get(original.source)
        if source is None:
            raise Conflict(f"this server no longer handles {original.source} webhooks")
        copy = await WebhookDelivery.create(
            source=original.source,
            event=original.event,
            delivery_id=original.delivery_id,
            signature_ok=True,
            outcome=DeliveryOutcome.ACCEPTED,
            body=original.body,
            headers=original.headers,
            redelivery_of=original,
        )
        await source.process(copy, original.event, original.body.encode())
        return copy
