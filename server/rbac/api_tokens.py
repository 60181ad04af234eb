"""API tokens: long-lived bearer secrets for scripts and tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.rbac.caller_service import CallerService
from home_idp.server.rbac.models import ApiToken
from home_idp.server.rbac.principal import SCOPES
from home_idp.server.rbac.tokens import hash_api_token, new_api_token

__all__ = ["ApiTokens", "NewApiToken", "revoke_all_api_tokens"]

MAX_TOKEN_DAYS = 3650
MAX_TOKENS_PER_USER = 50


@dataclass(frozen=True)
class NewApiToken:
    """The stored token and its secret, which exists only in this answer."""

    api_token: ApiToken
    secret: str


class ApiTokens(CallerService):
    """A user's own API tokens."""

    def mine(self) -> QuerySet[ApiToken]:
        principal = self._authz.require_user()
        return ApiToken.filter(user_id=principal.user_id)

    async def create(
        self, name: str, scopes: Sequence[str] | None, expires_in_days: int | None
    ) -> NewApiToken:
        principal = self._authz.require_write()
        if principal.via_api_token:
            # A leaked token must not be able to mint fresh ones.
            raise ValidationFailed.for_field("name", "log in with a password to create API tokens")
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise ValidationFailed.for_field("name", "must be 1-64 characters")
        chosen = list(dict.fromkeys(scopes)) if scopes is not None else list(SCOPES)
        if not chosen or any(scope not in SCOPES for scope in chosen):
            raise ValidationFailed.for_field("scopes", f"must be some of {', '.join(SCOPES)}")
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise ValidationFailed.for_field("expiresInDays", f"must be 1-{MAX_TOKEN_DAYS}")
        secret = new_api_token()
        async with in_transaction():
            if await ApiToken.exists(user_id=principal.user_id, name=name):
                raise Conflict(f"you already have a token named {name!r}")
            if await ApiToken.filter(user_id=principal.user_id).count() >= MAX_TOKENS_PER_USER:
                raise Conflict(f"at most {MAX_TOKENS_PER_USER} tokens per user; revoke some")
            api_token = await ApiToken.create(
                user_id=principal.user_id,
                name=name,
                token_hash=hash_api_token(secret),
                prefix=secret[:9],
                scopes=chosen,
                expires_at=(
                    datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
                ),
            )
            await self._audit.record(
                principal, "api_token.create", f"api_token:{name}", detail={"scopes": chosen}
            )
        return NewApiToken(api_token, secret)

    async def revoke(self, token_id: int) -> ApiToken:
        """Revoke one of one's own tokens (admins may revoke anyone's)."""
        principal = self._authz.require_write()
        async with in_transaction():
            api_token = await ApiToken.get_or_none(id=token_id)
            if api_token is None or (
                api_token.user_id != principal.user_id and not principal.is_admin
            ):
                raise NotFound("no such API token")
            if api_token.revoked_at is not None:
                raise Conflict("the token is already revoked")
            api_token.revoked_at = datetime.now(UTC)
            await api_token.save(update_fields=["revoked_at"])
            await self._audit.record(principal, "api_token.revoke", f"api_token:{api_token.name}")
        await self._access.announce([api_token.user_id])
        return api_token


async def revoke_all_api_tokens(user_id: int) -> int:
    """Revoke every API token of a user still in force; returns how many."""
    return await ApiToken.filter(user_id=user_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
