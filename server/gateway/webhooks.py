"""`POST /webhooks/git` (the platform repo's pushes), `POST /webhooks/registry` (image
pushes) and `POST /webhooks/source` (pushes to apps' source repositories)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from home_idp.server.deploy.registry_webhooks import SOURCE_REGISTRY, RegistryWebhooks
from home_idp.server.deploy.source_webhooks import SOURCE_PUSH, SourceWebhooks
from home_idp.server.deploy.webhooks import (
    SOURCE_GIT,
    GitWebhooks,
    WebhookResult,
    record_rejected,
)
from home_idp.server.gateway.limits import BodyTooLarge, read_capped
from home_idp.server.settings import WebhookSettings

__all__ = ["MAX_WEBHOOK_BYTES", "webhook_routes"]

MAX_WEBHOOK_BYTES = 1024 * 1024

_Handler = Callable[[dict[str, str], bytes], Awaitable[WebhookResult]]


def _endpoint(
    source: str, handle: _Handler, limits: WebhookSettings
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            body = await read_capped(request, MAX_WEBHOOK_BYTES)
        except BodyTooLarge:
            detail = f"body over {MAX_WEBHOOK_BYTES} bytes"
            await record_rejected(
                {
                    "source": source,
                    "event": headers.get("x-github-event", "")[:64],
                    "delivery_id": headers.get("x-github-delivery", "")[:128],
                },
                detail,
                signed=False,
                limits=limits,
            )
            return JSONResponse({"outcome": "rejected", "detail": detail}, 413)
        result = await handle(headers, body)
        return JSONResponse(
            {"outcome": result.outcome.value, "detail": result.detail}, result.status
        )

    return endpoint


def webhook_routes(
    git: GitWebhooks, registry: RegistryWebhooks, source: SourceWebhooks
) -> list[BaseRoute]:
    async def git_push(headers: dict[str, str], body: bytes) -> WebhookResult:
        return await git.receive(headers, body, signature=headers.get("x-hub-signature-256"))

    return [
        Route("/webhooks/git", _endpoint(SOURCE_GIT, git_push, git.limits), methods=["POST"]),
        Route(
            "/webhooks/registry",
            _endpoint(SOURCE_REGISTRY, registry.receive, registry.limits),
            methods=["POST"],
        ),
        Route(
            "/webhooks/source",
            _endpoint(SOURCE_PUSH, source.receive, source.limits),
            methods=["POST"],
        ),
    ]
