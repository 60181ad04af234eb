"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from home_idp.server import db

__all__ = ["routes"]


async def healthz(_: Request) -> JSONResponse:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(_: Request) -> JSONResponse:
    """The database answers; until then, take no traffic."""
    if await db.is_reachable():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unreachable"}, status_code=503)


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
