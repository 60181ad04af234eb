"""Requests to a local app's stable address go to its live release (`deploy.app_addresses`).

A cut-over loses no request: the new release is live before the old one is
stopped, and the container deployer waits a moment before stopping it, for
requests already on their way. Only plain HTTP is passed on (no WebSocket
upgrade); bodies stream both ways.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from home_idp.server.deploy.app_addresses import AppAddresses

__all__ = ["AppProxy", "LiveUrl"]

log = logging.getLogger(__name__)

# The live release's own address, or None while the app has none.
LiveUrl = Callable[[str, str], Awaitable[str | None]]

# Connection-level headers, which concern one hop only (RFC 9110, 7.6.1).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class AppProxy:
    """ASGI middleware: requests to an app's address go to its live release."""

    def __init__(
        self, app: ASGIApp, *, addresses: AppAddresses, live_url: LiveUrl, client: httpx.AsyncClient
    ) -> None:
        self.app = app
        self.addresses = addresses
        self.live_url = live_url
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = None
        if scope["type"] in ("http", "websocket"):
            target = self.addresses.app_of(Headers(scope=scope).get("host", ""))
        if target is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Refused before it is accepted: the client sees a 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        project, app = target
        live = await self.live_url(project, app)
        if live is None:
            response = PlainTextResponse(f"{project}/{app} has no live release", 503)
            await response(scope, receive, send)
            return
        await self._pass_on(Request(scope, receive), live, send)

    async def _pass_on(self, request: Request, live: str, send: Send) -> None:
        scope = request.scope
        headers = [(k, v) for k, v in request.headers.items() if k not in _HOP_BY_HOP]
        client = scope.get("client")
        headers += [
            ("x-forwarded-host", request.headers.get("host", "")),
            ("x-forwarded-proto", scope.get("scheme", "http")),
            ("x-forwarded-for", client[0] if client else ""),
        ]
        upstream_request = self.client.build_request(
            request.method,
            live + scope.get("raw_path", b"/").decode("latin-1") + _query(scope),
            headers=headers,
            content=request.stream(),
        )
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except httpx.TransportError as error:
            log.warning("the live release at %s did not answer: %s", live, error)
            await PlainTextResponse("the app did not answer", 502)(scope, request.receive, send)
            return
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        # Every header as sent, repeated ones (Set-Cookie) included.
        response.raw_headers = [
            (name, value)
            for name, value in upstream.headers.raw
            if name.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        await response(scope, request.receive, send)


def _query(scope: Scope) -> str:
    query: bytes = scope.get("query_string", b"")
    return "?" + query.decode("latin-1") if query else ""
