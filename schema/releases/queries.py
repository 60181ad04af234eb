"""Queries of releases: what runs an app, webhook deliveries, build logs, and a
release's manifests change."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from home_idp.schema.apps.types import app_id
from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.permissions import IsAdmin, IsAuthenticated
from home_idp.schema.core.relay import (
    Connection,
    Edge,
    connection,
    connection_from_queryset,
    decode_cursor,
    decode_id,
    encode_cursor,
    page,
)
from home_idp.schema.releases.types import (
    AppResource,
    BuildLogLine,
    ReleasePlan,
    WebhookDelivery,
)
from home_idp.server.deploy import models
from home_idp.server.deploy.webhooks import DeliveryFilter

__all__ = ["ReleaseQuery", "WebhookDeliveryFilter"]


@strawberry.input(description="Every field narrows the result; all are optional.")
class WebhookDeliveryFilter:
    source: str | None = None
    event: str | None = None
    outcome: str | None = None
    delivery_id: str | None = None
    signature_ok: bool | None = None
    since: datetime | None = None


@strawberry.type
class ReleaseQuery:
    @strawberry.field(
        description="The objects that run an app now, with their status (viewers and up).",
        permission_classes=[IsAuthenticated],
    )
    async def app_resources(self, info: Info, app: relay.GlobalID) -> list[AppResource]:
        found = await info.context.deploy.runtime.resources(app_id(app))
        return [AppResource.from_plugin(r) for r in found]

    @connection(description="Webhook deliveries, newest first.", permission_classes=[IsAdmin])
    async def webhook_deliveries(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: WebhookDeliveryFilter | None = None,
    ) -> Connection[WebhookDelivery]:
        chosen = from_row(DeliveryFilter, filter or WebhookDeliveryFilter())
        query = info.context.deploy.deliveries.list(chosen)
        return await connection_from_queryset(
            query, first, after, WebhookDelivery.from_model, newest_first=True
        )

    @connection(
        description="A release's stored build log, oldest line first.",
        permission_classes=[IsAuthenticated],
    )
    async def build_log(
        self, info: Info, release_id: relay.GlobalID, first: int = 100, after: str | None = None
    ) -> Connection[BuildLogLine]:
        deploy = info.context.deploy
        release = await deploy.releases.for_build_log(decode_id(release_id, "Release", "releaseId"))
        query = deploy.build_log.lines_after(release.id, decode_cursor(after) or 0)
        rows = await query.limit(first + 1)
        return page(
            [
                Edge(cursor=encode_cursor(row.seq), node=BuildLogLine.from_model(row))
                for row in rows[:first]
            ],
            has_next_page=len(rows) > first,
            count=models.BuildLogLine.filter(release_id=release.id).count,
        )

    @strawberry.field(
        description="The manifests change of a release: from git before it to what it renders.",
        permission_classes=[IsAuthenticated],
    )
    async def release_plan(self, info: Info, release_id: relay.GlobalID) -> ReleasePlan:
        plan = await info.context.deploy.releases.plan(
            decode_id(release_id, "Release", "releaseId")
        )
        return from_row(ReleasePlan, plan)
