"""The webhook inspector: every delivery received, and redelivery (admins only)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Self, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAdmin
from home_idp.schema.relay import (
    Connection,
    check_page_size,
    connection_from_queryset,
    decode_id,
    resolve_visible_nodes,
)
from home_idp.server.deploy import models
from home_idp.server.deploy.webhooks import DeliveryFilter

__all__ = ["WebhookMutation", "WebhookQuery"]


@strawberry.type(description="One webhook request as received, and what came of it.")
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    source: str = strawberry.field(description="git or registry.")
    event: str
    delivery_id: str = strawberry.field(description="The sender's delivery id.")
    signature_ok: bool
    outcome: str = strawberry.field(description="accepted, duplicate, ignored, rejected or failed.")
    detail: str
    headers: JSON
    received_at: datetime
    processed_at: datetime | None
    redelivery_of_id: strawberry.Private[int | None]

    @strawberry.field(description="The delivery this one repeats, if it is a redelivery.")
    def redelivery_of(self) -> relay.GlobalID | None:
        if self.redelivery_of_id is None:
            return None
        return relay.GlobalID("WebhookDelivery", str(self.redelivery_of_id))

    @classmethod
    def from_model(cls, delivery: models.WebhookDelivery) -> Self:
        return cls(
            id=delivery.id,
            source=delivery.source,
            event=delivery.event,
            delivery_id=delivery.delivery_id,
            signature_ok=delivery.signature_ok,
            outcome=delivery.outcome.value,
            detail=delivery.detail,
            headers=cast(JSON, delivery.headers),
            received_at=delivery.received_at,
            processed_at=delivery.processed_at,
            redelivery_of_id=delivery.redelivery_of_id,  # type: ignore[attr-defined]
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        principal = info.context.principal

        async def allowed(_: models.WebhookDelivery) -> bool:
            return principal.is_admin

        return await resolve_visible_nodes(
            models.WebhookDelivery, node_ids, cls.from_model, allowed
        )


@strawberry.input(description="Every field narrows the result; all are optional.")
class WebhookDeliveryFilter:
    source: str | None = None
    event: str | None = None
    outcome: str | None = None
    delivery_id: str | None = None
    signature_ok: bool | None = None
    since: datetime | None = None


@strawberry.input
class RedeliverWebhookInput:
    id: relay.GlobalID


@strawberry.type
class RedeliverWebhookSuccess:
    delivery: WebhookDelivery


RedeliverWebhookResult = Annotated[
    RedeliverWebhookSuccess | ErrorTypes, strawberry.union("RedeliverWebhookResult")
]


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Webhook deliveries, newest first.", permission_classes=[IsAdmin])
    async def webhook_deliveries(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: WebhookDeliveryFilter | None = None,
    ) -> Connection[WebhookDelivery]:
        check_page_size(first, info.context.max_page_size)
        chosen = filter or WebhookDeliveryFilter()
        query = info.context.deploy.deliveries.list(
            DeliveryFilter(
                source=chosen.source,
                event=chosen.event,
                outcome=chosen.outcome,
                delivery_id=chosen.delivery_id,
                signature_ok=chosen.signature_ok,
                since=chosen.since,
            )
        )
        return await connection_from_queryset(
            query, first, after, WebhookDelivery.from_model, newest_first=True
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Process a signed delivery again (admins).")
    async def redeliver_webhook(
        self, info: Info, input: RedeliverWebhookInput
    ) -> RedeliverWebhookResult:
        async def body() -> RedeliverWebhookSuccess:
            delivery = await info.context.deploy.deliveries.redeliver(
                decode_id(input.id, "WebhookDelivery")
            )
            await delivery.refresh_from_db()
            return RedeliverWebhookSuccess(delivery=WebhookDelivery.from_model(delivery))

        return await run_mutation(info, "webhook.redeliver", body)
