"""`POST /v1/traces`: OTLP/HTTP trace ingest, for anything that speaks OpenTelemetry.

Authenticated with `Authorization: Bearer <API token>` (a write-scoped
token, or a login's access token); the spans are stored only if the token's
user may add traces to every project they name. Whatever is refused, the
whole request is: nothing of it is stored. What is dropped from a span to
keep it within its bounds, the answer's `partial_success` says.
"""

from __future__ import annotations

import logging
from functools import partial

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from home_idp.server.errors import PermissionDenied
from home_idp.server.gateway.auth import PrincipalUser
from home_idp.server.gateway.limits import BodyTooLarge, read_capped
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.trace.manager import TraceManager
from home_idp.server.trace.otlp import (
    JSON,
    PROTOBUF,
    OtlpRefused,
    SpanLimits,
    decode_request,
    error_body,
    media_type,
    success_body,
)

__all__ = ["OTLP_TRACES_PATH", "otlp_routes"]

log = logging.getLogger(__name__)

OTLP_TRACES_PATH = "/v1/traces"


def otlp_routes(trace: TraceManager) -> list[BaseRoute]:
    settings = trace.settings
    limits = SpanLimits.of(settings)

    async def receive(request: Request) -> Response:
        kind = media_type(request.headers.get("content-type"))
        answer_kind = PROTOBUF if kind == PROTOBUF else JSON

        def refuse(status: int, message: str) -> Response:
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return Response(
                error_body(answer_kind, status, message), status, headers, media_type=answer_kind
            )

        user = request.user
        principal = user.principal if isinstance(user, PrincipalUser) else None
        if principal is None or not principal.is_authenticated:
            return refuse(401, "send an API token as 'Authorization: Bearer <token>'")
        if not principal.can_write:
            # Refused before the body is read: a read-only token costs nothing.
            return refuse(403, "this API token is read-only")
        try:
            body = await read_capped(request, settings.max_ingest_bytes)
            # Decoding thousands of spans is CPU work: off the event loop.
            decoded = await anyio.to_thread.run_sync(
                partial(
                    decode_request,
                    body,
                    content_type=kind,
                    content_encoding=request.headers.get("content-encoding"),
                    max_bytes=settings.max_ingest_bytes,
                    max_spans=settings.max_ingest_spans,
                    limits=limits,
                )
            )
            await trace.session(Authorizer(principal)).ingest(decoded.records)
        except BodyTooLarge:
            return refuse(413, f"the body is larger than {settings.max_ingest_bytes} bytes")
        except OtlpRefused as refusal:
            return refuse(refusal.status, refusal.message)
        except PermissionDenied as error:
            return refuse(403, error.message)
        if decoded.warning:
            log.info("OTLP ingest kept spans within their bounds: %s", decoded.warning)
        return Response(success_body(answer_kind, decoded.warning), 200, media_type=answer_kind)

    return [Route(OTLP_TRACES_PATH, receive, methods=["POST"])]
