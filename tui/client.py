"""The dashboard's one GraphQL client (gql): HTTP for queries and mutations,
graphql-transport-ws for subscriptions.

Everything the server can answer becomes a typed error here, so screens
catch `GatewayError` and show it: `ServerUnreachable` (the banner),
`NotAuthenticated` (back to the login screen), `ActionFailed` (a mutation's
typed error with its field errors) and `RequestFailed` (a GraphQL error).
Subscriptions resume: after a dropped connection they reconnect with the
last cursor seen, so no event is lost and none is shown twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, TypedDict, TypeVar, cast

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from home_idp.tui.errors import (
    ActionFailed,
    FieldError,
    GatewayError,
    NotAuthenticated,
    RequestFailed,
    ServerUnreachable,
)
from home_idp.tui.operations import document
from home_idp.tui.results import (
    LOGIN,
    LOGOUT,
    ME,
    REFRESH_TOKEN,
    LoginResult,
    MeData,
    Mutation,
    Query,
    Subscription,
)
from home_idp.tui.server_address import server_address
from home_idp.tui.session import Session

__all__ = [
    "ActionFailed",
    "FieldError",
    "Gateway",
    "GatewayError",
    "NotAuthenticated",
    "RequestFailed",
    "ServerUnreachable",
]

log = logging.getLogger(__name__)

# The close code graphql-transport-ws servers send for a refused connection_init,
# and home-idp's server when the socket's token expires or stops working.
_FORBIDDEN = 4403
# A subscription reconnects with a renewed token this long before the old one
# expires (what `Session.expires_soon` counts as soon), so no event waits for
# the server to close the socket.
_RENEW_AHEAD_SECONDS = 30.0
# How long an idle connection is kept for the next request. Servers close idle
# connections too (uvicorn after 5 s, httpx's own default as well): a request
# sent on one just as the server closes it fails as if the server were gone, so
# the dashboard lets go of it well before.
_KEEPALIVE_SECONDS = 2.0
# Transport failures that mean "the server is not there right now".
# What a web server that is not home-idp answers at /graphql.
_NOT_AN_API = frozenset({404, 405})

_OFFLINE = (OSError, httpx.TransportError, TransportConnectionFailed, TransportClosed)


def _http_url(server_url: str) -> str:
    return server_url.rstrip("/") + "/graphql"


def _ws_url(server_url: str) -> str:
    url = _http_url(server_url)
    return (
        "wss://" + url[8:] if url.startswith("https://") else "ws://" + url.removeprefix("http://")
    )


def _refused_credentials(error: BaseException) -> bool:
    """Whether the server closed the websocket because of the token (graphql-ws 4403)."""
    closed = getattr(error.__cause__, "rcvd", None)
    return getattr(closed, "code", None) == _FORBIDDEN


def _renewal_time(session: Session | None) -> float | None:
    """When an open subscription should reconnect with a renewed token, if ever."""
    if session is None or not session.refresh_token:
        return None  # API tokens cannot be renewed
    renew_at = session.expires_at - _RENEW_AHEAD_SECONDS
    # A token that lives shorter than the margin (or whose expiry is not
    # known) is left to the server's 4403.
    return renew_at if time.time() + 1 < renew_at < math.inf else None


def _unauthenticated(error: TransportQueryError) -> bool:
    """Whether the server refused the request's token (its answer to a 401)."""
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "UNAUTHENTICATED"
        for e in error.errors or []
    )


def _query_error_message(error: TransportQueryError) -> str:
    errors = error.errors or []
    return "; ".join(str(e.get("message", e)) for e in errors) or str(error)


Data = TypeVar("Data")

Variables: TypeAlias = dict[str, object]
"""An operation's variables by name."""
Answer: TypeAlias = dict[str, object]
"""An operation's data as it comes off the wire, before it is given its type."""


class _FieldErrorData(TypedDict):
    field: str
    message: str


# What every mutation answer may carry; a typed error has a message (and field errors).
_Outcome = TypedDict(
    "_Outcome",
    {"__typename": str, "message": str, "fieldErrors": "list[_FieldErrorData] | None"},
    total=False,
)

ConnectionListener = Callable[[bool], None]
SessionListener = Callable[[Session | None], Awaitable[None] | None]


class Gateway:
    """A connection to one home-idp server, as one user (or nobody yet)."""

    def __init__(
        self,
        server_url: str,
        session: Session | None = None,
        *,
        timeout: float = 20.0,
        on_connection: ConnectionListener | None = None,
        on_session: SessionListener | None = None,
    ) -> None:
        self.server_url = server_address(server_url)
        self.session = session
        self.timeout = timeout
        self._on_connection = on_connection
        self._on_session = on_session
        self._client = Client(
            transport=HTTPXAsyncTransport(
                url=_http_url(self.server_url),
                timeout=timeout,
                limits=httpx.Limits(keepalive_expiry=_KEEPALIVE_SECONDS),
            ),
            execute_timeout=timeout,
        )
        self._http: Any = None
        self._refreshing: asyncio.Lock = asyncio.Lock()
        self._connecting: asyncio.Lock = asyncio.Lock()
        self.online = True

    # -- connection state ---------------------------------------------------

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            if self._on_connection is not None:
                self._on_connection(online)

    async def _set_session(self, session: Session | None) -> None:
        self.session = session
        if self._on_session is not None:
            result = self._on_session(session)
            if result is not None:
                await result

    async def aclose(self) -> None:
        if self._http is not None:
            await self._client.close_async()  # type: ignore[no-untyped-call]
            self._http = None

    # -- queries and mutations ----------------------------------------------

    async def _send(self, name: str, variables: Variables, token: str | None) -> Answer:
        if self._http is None:
            async with self._connecting:  # two first requests must not both connect
                if self._http is None:
                    self._http = await self._client.connect_async()  # type: ignore[no-untyped-call]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = GraphQLRequest(document(name), variable_values=variables, operation_name=name)
        try:
            result: Answer = await self._http.execute(request, extra_args={"headers": headers})
        except TransportQueryError as error:
            self._set_online(True)
            if _unauthenticated(error):
                # The server's 401 comes as a GraphQL error: the token was ended
                # (a logout elsewhere, a new password, changed rights).
                raise NotAuthenticated("your session has ended; log in again") from None
            raise RequestFailed(_query_error_message(error)) from None
        except TransportServerError as error:
            self._set_online(True)
            if error.code == 401:
                raise NotAuthenticated("your session has ended; log in again") from None
            if error.code in _NOT_AN_API:
                raise RequestFailed(self._not_home_idp(f"it answered {error.code}")) from None
            raise RequestFailed(f"the server answered {error.code}") from None
        except TransportProtocolError:
            # Something answered, but not in GraphQL: a web page, a registry...
            self._set_online(True)
            raise RequestFailed(self._not_home_idp("its answer is not GraphQL")) from None
        except (*_OFFLINE, TimeoutError) as error:
            self._set_online(False)
            raise ServerUnreachable(f"cannot reach {self.server_url}") from error
        except TransportError as error:
            raise RequestFailed(str(error)) from None
        self._set_online(True)
        return result

    def _not_home_idp(self, why: str) -> str:
        return (
            f"{self.server_url} does not look like a home-idp server ({why} at /graphql); "
            "check the address"
        )

    async def _run(self, name: str, variables: Variables) -> Answer:
        """Run a named operation as the session's user; renew an expired token once."""
        session = await self._fresh_session()
        try:
            return await self._send(name, variables, session.access_token if session else None)
        except NotAuthenticated:
            if session is None:
                raise
            session = await self._refresh(session)
            return await self._send(name, variables, session.access_token)

    async def execute(self, query: Query[Data], **variables: object) -> Data:
        """Run a query as the session's user and return its data."""
        # The handle's type is what the operation selects (checked by a test).
        return cast("Data", await self._run(query.name, variables))

    async def mutate(self, mutation: Mutation[Data], **variables: object) -> Data:
        """Run a mutation and return its success payload; a typed error raises ActionFailed."""
        data = await self._run(mutation.name, variables)
        (payload,) = data.values()
        outcome = cast("_Outcome", payload)
        typename = str(outcome.get("__typename", ""))
        if "message" in outcome and not typename.endswith("Success") and typename != "Tokens":
            raise ActionFailed(
                typename=typename,
                message=str(outcome["message"]),
                field_errors=[FieldError(**e) for e in outcome.get("fieldErrors") or []],
            )
        return cast("Data", payload)

    # -- sessions -----------------------------------------------------------

    async def login(self, username: str, password: str) -> Session:
        tokens = await self.mutate(LOGIN, input={"username": username, "password": password})
        session = Session(self.server_url, username, "", "", 0).renewed(
            tokens["accessToken"], tokens["refreshToken"], tokens["expiresIn"]
        )
        await self._set_session(session)
        return session

    async def login_with_token(self, api_token: str) -> Session:
        """An API token works as a bearer token; it cannot be refreshed."""
        me = cast("MeData", await self._send(ME.name, {}, api_token))["me"]
        session = Session(self.server_url, me["username"], api_token, "", float("inf"))
        await self._set_session(session)
        return session

    async def logout(self) -> None:
        """End the session on the server too, so its refresh token is worthless after."""
        session = self.session
        await self._set_session(None)
        if session is None or not session.refresh_token:
            return  # an API token is not a session; revoking it is up to its owner
        # The refresh token names the session; the expired access token is not needed.
        # Offline or refused, the local session is gone all the same.
        with contextlib.suppress(GatewayError):
            await self._send(LOGOUT.name, {"input": {"refreshToken": session.refresh_token}}, None)

    async def _fresh_session(self) -> Session | None:
        session = self.session
        if session is not None and session.refresh_token and session.expires_soon:
            session = await self._refresh(session)
        return session

    async def _refresh(self, stale: Session) -> Session:
        async with self._refreshing:
            # Another request may have renewed it while this one waited, or the user logged out.
            if self.session is None:
                raise NotAuthenticated("logged out")
            if self.session.access_token != stale.access_token:
                return self.session
            if not stale.refresh_token:
                await self._set_session(None)
                raise NotAuthenticated("the API token was refused; log in again")
            data = await self._send(
                REFRESH_TOKEN.name, {"input": {"refreshToken": stale.refresh_token}}, None
            )
            # Not through `mutate`: a refused refresh ends the session instead of raising.
            answer = data["refreshToken"]
            if cast("_Outcome", answer).get("__typename") != "Tokens":
                await self._set_session(None)
                raise NotAuthenticated("your session has ended; log in again")
            tokens = cast("LoginResult", answer)
            session = stale.renewed(
                tokens["accessToken"], tokens["refreshToken"], tokens["expiresIn"]
            )
            await self._set_session(session)
            return session

    # -- subscriptions ------------------------------------------------------

    async def subscribe(
        self,
        subscription: Subscription[Data],
        *,
        after: str | None = None,
        retry_seconds: float = 0.5,
        **variables: object,
    ) -> AsyncIterator[Data]:
        """Yield a subscription's events; reconnect after a drop, resuming after the last cursor.

        Each event must carry a `cursor`. The iteration ends when the server
        completes the subscription (for example, a build log whose build ended).
        """
        name = subscription.name
        backoff = retry_seconds
        renewed = False
        while True:
            try:
                session = await self._fresh_session()
            except ServerUnreachable:
                # The renewal itself found no server: wait as for a dropped connection.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            transport = WebsocketsTransport(
                url=_ws_url(self.server_url),
                init_payload=(
                    {"Authorization": f"Bearer {session.access_token}"} if session else {}
                ),
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
                connect_timeout=self.timeout,
                ping_interval=10,
                pong_timeout=10,
            )
            request = GraphQLRequest(
                document(name), variable_values={**variables, "after": after}, operation_name=name
            )
            renew_at = _renewal_time(session)
            try:
                async with Client(transport=transport) as ws:
                    self._set_online(True)
                    async with contextlib.aclosing(ws.subscribe(request)) as events:
                        while True:
                            wait = None if renew_at is None else max(0.0, renew_at - time.time())
                            try:
                                # Bounded per event, never across the yield below.
                                data = await asyncio.wait_for(anext(events), wait)
                            except StopAsyncIteration:
                                return
                            except TimeoutError:
                                break  # renewal is due: reconnect with it, after the cursor
                            (event,) = data.values()
                            after = event.get("cursor", after)
                            backoff = retry_seconds
                            renewed = False
                            yield cast("Data", event)
                continue
            except TransportQueryError as error:
                raise RequestFailed(_query_error_message(error)) from None
            except (TransportProtocolError, *_OFFLINE, TimeoutError) as error:
                if _refused_credentials(error):
                    # The token was refused: renew it once; refused again, the session is over.
                    if session is None or not session.refresh_token or renewed:
                        raise NotAuthenticated("the server refused the session") from None
                    renewed = True
                    with contextlib.suppress(ServerUnreachable):
                        await self._refresh(session)
                    continue
                log.debug("subscription %s dropped: %s", name, error)
                if not isinstance(error, TransportProtocolError):
                    self._set_online(False)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
