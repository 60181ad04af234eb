"""`POST /webhooks/git`: push events of the platform repo, GitHub format."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from home_idp.server.deploy.models import DeliveryOutcome, WebhookDelivery
from home_idp.server.deploy.webhooks import GitWebhooks
from home_idp.server.pipeline.queue import utcnow

__all__ = ["MAX_WEBHOOK_BYTES", "webhook_routes"]

MAX_WEBHOOK_BYTES = 1024 * 1024


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise _TooLarge
    return bytes(body)


def webhook_routes(webhooks: GitWebhooks) -> list[BaseRoute]:
    async def git_webhook(request: Request) -> JSONResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            body = await _read_capped(request)
        except _TooLarge:
            await WebhookDelivery.create(
                source="git",
                event=headers.get("x-github-event", "")[:64],
                delivery_id=headers.get("x-github-delivery", "")[:128],
                signature_ok=False,
                outcome=DeliveryOutcome.REJECTED,
                detail=f"body over {MAX_WEBHOOK_BYTES} bytes",
                processed_at=utcnow(),
            )
            return JSONResponse(
                {"outcome": "rejected", "detail": f"body over {MAX_WEBHOOK_BYTES} bytes"}, 413
            )
        result = await webhooks.receive(headers, body, signature=headers.get("x-hub-signature-256"))
        return JSONResponse(
            {"outcome": result.outcome.value, "detail": result.detail}, result.status
        )

    return [Route("/webhooks/git", git_webhook, methods=["POST"])]
