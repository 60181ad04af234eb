"""Serve the test app over real sockets (uvicorn on 127.0.0.1, a free port)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from starlette.applications import Starlette

__all__ = ["free_port", "live_server", "threaded_http_server"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def live_server(app: Starlette, port: int | None = None) -> AsyncIterator[str]:
    """Yield the address; the app's lifespan already ran in the session fixture.

    Pass `port` to serve where the app's settings say it lives (webhooks sent
    by its own git hook go there).
    """
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def threaded_http_server(
    handler: type[BaseHTTPRequestHandler] | Any,
) -> Iterator[ThreadingHTTPServer]:
    """A plain HTTP server on 127.0.0.1 (a free port), in a thread of its own."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
