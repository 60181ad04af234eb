"""How the fakes send their webhooks: in the background, as a real sender would.

A real git hook or registry notifies after the push it reports, never inside
the call that pushed; the fakes do the same, so the server sees the order of
events it sees in production (the commit returns, the webhook comes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import httpx
from starlette.types import ASGIApp

__all__ = ["WebhookOutbox", "WebhookSender", "post_over_http", "post_to_app"]

log = logging.getLogger(__name__)

WebhookSender = Callable[[str, Mapping[str, str], bytes], Awaitable[None]]
"""Deliver one webhook: (url, headers, body)."""


async def post_over_http(url: str, headers: Mapping[str, str], body: bytes) -> None:
    """POST to `url` over the network (where the receiver listens on a port)."""
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        await client.post(url, headers=dict(headers), content=body)


def post_to_app(app: ASGIApp) -> WebhookSender:
    """POST straight into an ASGI app: the URL's path and query are kept, its host is not."""

    async def send(url: str, headers: Mapping[str, str], body: bytes) -> None:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fake.test") as client:
            await client.post(target, headers=dict(headers), content=body)

    return send


class WebhookOutbox:
    """Webhooks on their way; `send` can be swapped once the receiver exists."""

    def __init__(self, send: WebhookSender = post_over_http) -> None:
        self.send = send
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        task = asyncio.create_task(self._deliver(url, dict(headers), body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, headers: dict[str, str], body: bytes) -> None:
        try:
            await self.send(url, headers, body)
        except Exception:  # a sender that cannot deliver drops it, as real ones do
            log.warning("webhook to %s was not delivered", url, exc_info=True)

    async def drain(self) -> None:
        """Wait until every webhook posted so far was delivered (or dropped)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
