"""The GraphQL endpoint: HTTP, GraphiQL and graphql-transport-ws subscriptions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import strawberry
from starlette.authentication import AuthenticationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from home_idp.schema.core.context import Context
from home_idp.server.gateway.auth import PrincipalUser, bearer_token
from home_idp.server.gateway.limits import decode_json
from home_idp.server.gateway.websocket import FreshRightsTransportWS
from home_idp.server.rbac import ANONYMOUS
from home_idp.server.rbac.reauthentication import credential_expiry
from home_idp.server.runtime import Runtime

__all__ = ["GraphQLApp"]


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with home-idp's context and websocket login."""

    graphql_transport_ws_handler_class = FreshRightsTransportWS

    def __init__(self, schema: strawberry.Schema, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.graphql.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.runtime = runtime

    def decode_json(self, data: str | bytes) -> object:
        """Bodies, `variables` of a GET and websocket messages; too deep is bad JSON (400)."""
        return decode_json(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        user = request.scope.get("user")
        principal = user.principal if isinstance(user, PrincipalUser) else ANONYMOUS
        # The middleware has checked the header, so it parses.
        bearer = bearer_token(request.headers.get("authorization")) if principal.user_id else None
        return Context(
            runtime=self.runtime,
            request=request,
            response=response,
            principal=principal,
            bearer=bearer,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, Any] | None:
        """Websocket clients authenticate in the `connection_init` payload."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if raw is None:
            # Stays as authenticated by the upgrade request, if at all.
            await _note_expiry(context)
            return None
        try:
            token = bearer_token(str(raw)) if " " in str(raw) else str(raw)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"message": str(error)}) from error
        principal = await self.runtime.rbac.authenticator.authenticate_bearer(token or "")
        if principal is None:
            raise ConnectionRejectionError({"message": "the token is invalid, expired or revoked"})
        context.principal = principal
        context.bearer = token
        context.__dict__.pop("rbac", None)  # rebind the rbac services to the new principal
        await _note_expiry(context)
        return None


async def _note_expiry(context: Context) -> None:
    """Remember when the socket's credential expires: the socket closes then."""
    if context.bearer is not None:
        expires_at = await credential_expiry(context.bearer)
        context.principal = replace(context.principal, expires_at=expires_at)
