"""Bearer authentication for HTTP requests (JWT or API token)."""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from home_idp.server.rbac import ANONYMOUS, Principal
from home_idp.server.rbac.auth import Authenticator

__all__ = ["BearerAuthBackend", "PrincipalUser", "auth_error_response", "bearer_token"]


class PrincipalUser(BaseUser):
    """Starlette's view of a home-idp principal."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return self.principal.is_authenticated

    @property
    def display_name(self) -> str:
        return self.principal.username


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class BearerAuthBackend(AuthenticationBackend):
    """No header: anonymous. A header that does not check out: 401, never anonymous."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        header = conn.headers.get("authorization")
        if header and _path_starts(conn, "/webhooks/"):
            # Webhook senders are no users: the header carries the registry's
            # shared secret, which the webhook route checks itself.
            return AuthCredentials(), PrincipalUser(ANONYMOUS)
        if header and _path_starts(conn, "/git/") and header.partition(" ")[0].lower() == "basic":
            # Git clients send Basic credentials; the git route checks them itself.
            return AuthCredentials(), PrincipalUser(ANONYMOUS)
        token = bearer_token(header)
        if token is None:
            return AuthCredentials(), PrincipalUser(ANONYMOUS)
        principal = await self._authenticator.authenticate_bearer(token)
        if principal is None:
            raise AuthenticationError("the token is invalid, expired or revoked")
        return AuthCredentials(sorted(principal.scopes)), PrincipalUser(principal)


def _path_starts(conn: HTTPConnection, prefix: str) -> bool:
    path: str = conn.scope["path"]
    return path.removeprefix(conn.scope.get("root_path", "")).startswith(prefix)


def auth_error_response(conn: HTTPConnection, error: AuthenticationError) -> Response:
    return JSONResponse(
        {"errors": [{"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
