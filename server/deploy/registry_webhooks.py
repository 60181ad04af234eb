"""Incoming registry webhooks (distribution or Harbor): the image pushes of builds."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from tortoise.exceptions import IntegrityError

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.registry.contract import RegistryPlugin
from home_idp.server.apps.models import App
from home_idp.server.deploy.build_steps import steps_waiting_for_image
from home_idp.server.deploy.models import DeliveryOutcome, RegistryPush, WebhookDelivery
from home_idp.server.deploy.webhooks import (
    WebhookResult,
    advance_by_webhook,
    finish_delivery,
    record_accepted,
    record_rejected,
    storable,
)
from home_idp.server.pipeline.engine import Engine
from home_idp.server.settings import WebhookSettings

__all__ = ["SOURCE_REGISTRY", "RegistryWebhooks"]

log = logging.getLogger(__name__)

SOURCE_REGISTRY = "registry"
# Headers worth showing in the inspector; Authorization (the secret) is left out.
_KEPT_HEADERS = ("content-type", "user-agent")


class RegistryWebhooks:
    """Handles push notifications of the image registry."""

    def __init__(
        self, registry: RegistryPlugin, engine: Engine, limits: WebhookSettings | None = None
    ) -> None:
        self._registry = registry
        self._engine = engine
        self.limits = limits or WebhookSettings()

    async def receive(self, headers: dict[str, str], body: bytes) -> WebhookResult:
        record: dict[str, Any] = {
            "source": SOURCE_REGISTRY,
            "event": "",
            "delivery_id": "",
            "headers": {
                name: storable(headers[name][:200]) for name in _KEPT_HEADERS if name in headers
            },
        }
        if not self._registry.verify_webhook(headers, body):
            await record_rejected(
                record, "missing or wrong Authorization header", signed=False, limits=self.limits
            )
            return WebhookResult(401, DeliveryOutcome.REJECTED, "bad or missing secret")
        try:
            parsed = self._registry.parse_webhook(headers, body)
        except WebhookRejected as error:
            await record_rejected(record, str(error), limits=self.limits)
            return WebhookResult(400, DeliveryOutcome.REJECTED, str(error))
        record["event"] = storable(parsed.event[:64])
        record["delivery_id"] = storable(parsed.delivery_id[:128])
        delivery = await record_accepted(record, body)
        if delivery is None:
            return WebhookResult(200, DeliveryOutcome.DUPLICATE, "duplicate delivery ignored")
        return await self.process(delivery, parsed.event, body)

    async def process(self, delivery: WebhookDelivery, event: str, body: bytes) -> WebhookResult:
        """Act on a verified delivery and record the outcome on it."""
        return await finish_delivery(delivery, self._act(delivery, body))

    async def _act(self, delivery: WebhookDelivery, body: bytes) -> WebhookResult:
        try:
            parsed = self._registry.parse_webhook({}, body)
        except WebhookRejected as error:
            return WebhookResult(400, DeliveryOutcome.REJECTED, str(error))
        if not parsed.pushes:
            return WebhookResult(200, DeliveryOutcome.IGNORED, f"no image push ({parsed.event})")
        advanced = recorded = 0
        for push in parsed.pushes:
            if push.tag is None or not await _is_app_repository(push.repository):
                # Base images, pushes by digest only, repositories of no app.
                continue
            recorded += 1
            # Another replica may record the same push at the same moment.
            with contextlib.suppress(IntegrityError):
                await RegistryPush.get_or_create(
                    repository=push.repository,
                    tag=push.tag,
                    digest=push.digest,
                    defaults={"delivery": delivery},
                )
            waiting = await steps_waiting_for_image(
                self._registry.host, push.repository, push.tag, push.digest
            )
            for step_id in waiting:
                if await advance_by_webhook(self._engine, step_id, delivery):
                    advanced += 1
        if not recorded:
            return WebhookResult(200, DeliveryOutcome.IGNORED, "no push to an app's repository")
        return WebhookResult(
            200,
            DeliveryOutcome.ACCEPTED,
            f"{recorded} image push(es); advanced {advanced} step(s)",
        )


async def _is_app_repository(repository: str) -> bool:
    project, _, app = repository.partition("/")
    if not project or not app or "/" in app:
        return False
    return await App.exists(name=app, project__name=project)
