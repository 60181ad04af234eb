"""graphql-transport-ws with every operation authenticated and authorised afresh.

Strawberry hands every operation of a socket the one context made when the
socket connected, so rights looked up for one operation would serve the next
for as long as the socket stays open. Here each operation (query, mutation or
subscription) gets a context made from scratch: the token's expiry and
version, the account's status, the API token's revocation and the caller's
rights are looked up again, and nothing is carried over. A credential that
no longer works closes the socket with 4403 and the reason; so does the
token's expiry, on time, so that the client reconnects with a fresh token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    # Strawberry's own signal that an operation closed the socket (a syntax
    # error); caught here as in Strawberry's `run_operation`.
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
)
from strawberry.utils.aio import aclosing

from home_idp.schema.core.context import Context
from home_idp.server.errors import AuthenticationFailed
from home_idp.server.rbac.reauthentication import EXPIRED

__all__ = ["CREDENTIALS_ENDED", "FreshRightsTransportWS"]

log = logging.getLogger(__name__)

# graphql-transport-ws "Forbidden": clients reconnect with fresh credentials
# (the graphql-ws library retries on it; the TUI renews its token first).
CREDENTIALS_ENDED = 4403


class FreshRightsTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, with a fresh context per operation."""

    _expiry_watch: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._expiry_watch is None:
            self._expiry_watch = asyncio.create_task(self._close_when_expired())

    async def shutdown(self) -> None:
        if self._expiry_watch is not None:
            self._expiry_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_watch
        await super().shutdown()

    async def _close_when_expired(self) -> None:
        expires_at = self.context.principal.expires_at
        if expires_at is None:
            return
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self._close(EXPIRED)

    async def _close(self, reason: str) -> None:
        # A close reason has room for 123 bytes.
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.websocket.close(code=CREDENTIALS_ENDED, reason=reason[:120])

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Strawberry's `run_operation`, with this operation's own context."""
        try:
            context = await self.context.renewed()
        except AuthenticationFailed as refused:
            self.operations.pop(operation.id, None)
            await self._close(refused.message)
            return
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            await operation.send_operation_message(
                CompleteMessage(id=operation.id, type="complete")
            )
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
