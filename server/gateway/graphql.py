"""The GraphQL endpoint: HTTP, GraphiQL and graphql-transport-ws subscriptions."""

from __future__ import annotations

from typing import Any

import strawberry
from starlette.authentication import AuthenticationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from home_idp.schema.context import Context
from home_idp.server.gateway.auth import PrincipalUser, bearer_token
from home_idp.server.rbac import ANONYMOUS
from home_idp.server.runtime import Runtime

__all__ = ["GraphQLApp"]


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with home-idp's context and websocket login."""

    def __init__(self, schema: strawberry.Schema, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.graphql.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.runtime = runtime

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        user = request.scope.get("user")
        principal = user.principal if isinstance(user, PrincipalUser) else ANONYMOUS
        return Context(
            runtime=self.runtime, request=request, response=response, principal=principal
        )

    async def on_ws_connect(self, context: Context) -> dict[str, Any] | None:
        """Websocket clients authenticate in the `connection_init` payload."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if raw is None:
            return None  # stays as authenticated by the upgrade request, if at all
        try:
            token = bearer_token(str(raw)) if " " in str(raw) else str(raw)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"message": str(error)}) from error
        principal = await self.runtime.rbac.authenticator.authenticate_bearer(token or "")
        if principal is None:
            raise ConnectionRejectionError({"message": "the token is invalid, expired or revoked"})
        context.principal = principal
        context.__dict__.pop("rbac", None)  # rebind the rbac services to the new principal
        return None
