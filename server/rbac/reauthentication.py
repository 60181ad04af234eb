"""The caller of a long-lived connection as things stand now, or why they may no longer act.

A websocket authenticates once, then carries operations for hours. Each
operation, and each running subscription when rights change, looks the
caller up again from the credential they connected with: its expiry, the
account's status and token version, the API token's revocation and the
administrator flag are as the database says now, never as they were.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import jwt

from home_idp.server.errors import AuthenticationFailed
from home_idp.server.rbac.auth import Authenticator
from home_idp.server.rbac.models import ApiToken, User, UserStatus
from home_idp.server.rbac.principal import Principal
from home_idp.server.rbac.tokens import API_TOKEN_PREFIX, hash_api_token

__all__ = ["EXPIRED", "authenticate_again", "credential_expiry"]

EXPIRED = "your token has expired; reconnect with a fresh one"


async def credential_expiry(bearer: str) -> float | None:
    """When `bearer` stops working (Unix seconds), or None if it never expires.

    Call only for a credential that has just been authenticated.
    """
    if bearer.startswith(API_TOKEN_PREFIX):
        expires_at = await ApiToken.filter(token_hash=hash_api_token(bearer)).values_list(
            "expires_at", flat=True
        )
        found = next(iter(expires_at), None)
        return found.timestamp() if isinstance(found, datetime) else None
    # The signature was checked by the authentication just before; only the
    # expiry is read here.
    try:
        claims = jwt.decode(bearer, options={"verify_signature": False})
        return float(claims["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


async def authenticate_again(
    authenticator: Authenticator, before: Principal, bearer: str | None
) -> Principal:
    """The caller now; AuthenticationFailed says why when the credential no longer works.

    Without a bearer (a context made inside the server) the account itself is
    looked up again.
    """
    if not before.is_authenticated:
        return before
    if bearer is None:
        return await _from_account(before)
    principal = await authenticator.authenticate_bearer(bearer)
    if principal is None or principal.user_id != before.user_id:
        raise AuthenticationFailed(await _why_refused(before, bearer))
    return replace(principal, expires_at=await credential_expiry(bearer))


async def _from_account(before: Principal) -> Principal:
    user = await User.get_or_none(id=before.user_id)
    if user is None or user.status is not UserStatus.ACTIVE:
        raise AuthenticationFailed(await _why_refused(before, None))
    return replace(before, username=user.username, is_admin=user.is_admin)


async def _why_refused(before: Principal, bearer: str | None) -> str:
    if before.expires_at is not None and before.expires_at <= time.time():
        return EXPIRED
    user = await User.get_or_none(id=before.user_id)
    if user is None:
        return "your account was deleted"
    if user.status is UserStatus.DISABLED:
        return "your account is disabled"
    if user.status is UserStatus.PENDING:
        return "your account is waiting for an administrator's approval"
    if bearer is not None and bearer.startswith(API_TOKEN_PREFIX):
        token = await ApiToken.get_or_none(token_hash=hash_api_token(bearer))
        if token is not None and token.expires_at and token.expires_at <= datetime.now(UTC):
            return "the API token has expired"
        return "the API token was revoked"
    if bearer is not None:
        expiry = await credential_expiry(bearer)
        if expiry is not None and expiry <= time.time():
            return EXPIRED
    return "your session has ended (your password or rights changed); log in again"
