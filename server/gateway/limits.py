"""Caps the size of request bodies before any handler reads them, and their nesting."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit", "BodyTooLarge", "decode_json", "read_capped"]


def decode_json(data: str | bytes) -> object:
    """`json.loads`, with JSON nested past the interpreter's recursion limit as a decode error.

    Such a document makes the decoder raise RecursionError, which callers
    expecting bad JSON would let through as a server error; as a
    JSONDecodeError it is answered as the bad input it is.
    """
    try:
        return json.loads(data)
    except RecursionError:
        text = data.decode(errors="replace") if isinstance(data, bytes) else data
        raise json.JSONDecodeError("JSON nested too deeply", text[:100], 0) from None


class BodyTooLarge(Exception):
    """A request body over the limit of the route that reads it."""


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The request's body, or BodyTooLarge as soon as it is declared or read past `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge
    return bytes(body)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Answers 413 for bodies over `max_bytes`, declared or streamed.

    A request without an `Authorization` header is held to
    `anonymous_max_bytes` (when given): it cannot be more than a sign-up or a
    login. One with a header that does not authenticate never gets its body
    read (the authentication middleware answers 401 first).
    Paths under `exempt_prefixes` enforce limits of their own (webhooks record
    the refused delivery; git streams packs).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        exempt_prefixes: tuple[str, ...] = (),
        anonymous_max_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes
        self.anonymous_max_bytes = min(anonymous_max_bytes or max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        max_bytes = self.max_bytes if b"authorization" in headers else self.anonymous_max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, max_bytes)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, max_bytes)

    async def _reject(self, send: Send, max_bytes: int) -> None:
        without_login = " without a login" if max_bytes < self.max_bytes else ""
        body = json.dumps(
            {"errors": [{"message": f"request body over {max_bytes} bytes{without_login}"}]}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
