"""Attempt throttling: failed logins per username and per address, sign-ups per address.

Counts live in the database (AuthThrottle), so replicas share them. A key is
a kind and the SHA-256 of the value, so no typed-in username is stored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from home_idp.server.errors import TooManyAttempts
from home_idp.server.rbac.models import AuthThrottle
from home_idp.server.settings import AuthSettings

__all__ = ["AttemptThrottle", "LoginThrottles"]

# Compare-and-set rounds before a contended key is treated as busy.
_ROUNDS = 5


@dataclass(frozen=True)
class AttemptThrottle:
    """One kind of attempt: how many are free, and how the wait grows after that."""

    kind: str
    free_attempts: int
    base_delay_seconds: float
    max_delay_seconds: float
    forget_after_seconds: float
    refusal: str

    def _key(self, value: str) -> str:
        return f"{self.kind}:{hashlib.sha256(value.encode()).hexdigest()}"

    def _delay(self, attempts: int) -> timedelta:
        steps = attempts - self.free_attempts
        seconds = self.base_delay_seconds * 2 ** min(steps, 40)
        return timedelta(seconds=min(seconds, self.max_delay_seconds))

    async def admit(self, value: str) -> None:
        """Count one attempt, or raise TooManyAttempts while the key must wait.

        The attempt is counted (and the next wait set) before the caller
        checks anything, so a burst of parallel guesses is counted in full.
        """
        key = self._key(value)
        for _ in range(_ROUNDS):
            now = datetime.now(UTC)
            row = await AuthThrottle.get_or_none(key=key)
            if row is None:
                await self._forget_quiet_keys(now)
                try:
                    await AuthThrottle.create(
                        key=key,
                        attempts=1,
                        last_attempt_at=now,
                        blocked_until=now + self._delay(1) if self.free_attempts <= 1 else None,
                    )
                    return
                except IntegrityError:
                    continue  # another request made it first: count on that row
            if row.blocked_until is not None and row.blocked_until > now:
                raise self._refused(row.blocked_until - now)
            quiet = (now - row.last_attempt_at).total_seconds() > self.forget_after_seconds
            attempts = 1 if quiet else row.attempts + 1
            blocked_until = now + self._delay(attempts) if attempts >= self.free_attempts else None
            # Compare-and-set on the count: two requests never both take the last free attempt.
            changed = await AuthThrottle.filter(id=row.id, attempts=row.attempts).update(
                attempts=attempts, last_attempt_at=now, blocked_until=blocked_until
            )
            if changed:
                return
        raise self._refused(timedelta(seconds=1))

    async def _forget_quiet_keys(self, now: datetime) -> None:
        """Drop this kind's keys that are neither waiting nor remembered any more:
        every new username typed in makes a row, and strangers must not grow the
        table without end."""
        quiet_since = now - timedelta(seconds=self.forget_after_seconds)
        stale = AuthThrottle.filter(
            key__startswith=f"{self.kind}:", last_attempt_at__lt=quiet_since
        )
        await stale.filter(blocked_until=None).delete()
        await stale.filter(blocked_until__lt=now).delete()

    async def forget(self, value: str) -> bool:
        """Start the key over (an administrator's unlock); whether it was held."""
        return bool(await AuthThrottle.filter(key=self._key(value)).delete())

    async def succeeded(self, value: str, *, forget: bool) -> None:
        """The admitted attempt was no failure: forget the key, or take the attempt back."""
        key = self._key(value)
        if forget:
            await self.forget(value)
            return
        for _ in range(_ROUNDS):
            row = await AuthThrottle.get_or_none(key=key)
            if row is None or row.attempts == 0:
                return
            attempts = row.attempts - 1
            # Only failures may keep the key waiting.
            blocked_until = row.blocked_until if attempts >= self.free_attempts else None
            changed = await AuthThrottle.filter(id=row.id, attempts=row.attempts).update(
                attempts=attempts, blocked_until=blocked_until
            )
            if changed:
                return

    def _refused(self, wait: timedelta) -> TooManyAttempts:
        seconds = max(1, math.ceil(wait.total_seconds()))
        return TooManyAttempts(f"{self.refusal}; try again in {seconds} s", seconds)


@dataclass(frozen=True)
class LoginThrottles:
    """The three throttles of the authenticator, from the settings."""

    per_username: AttemptThrottle
    per_address: AttemptThrottle
    sign_up_per_address: AttemptThrottle

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> LoginThrottles:
        def rule(kind: str, free: int, refusal: str) -> AttemptThrottle:
            return AttemptThrottle(
                kind,
                free,
                settings.base_delay_seconds,
                settings.max_delay_seconds,
                settings.forget_after_seconds,
                refusal,
            )

        return cls(
            per_username=rule(
                "login-user", settings.login_failures_per_username, "too many failed logins"
            ),
            per_address=rule(
                "login-address", settings.login_failures_per_address, "too many failed logins"
            ),
            sign_up_per_address=rule(
                "sign-up-address",
                settings.sign_ups_per_address,
                "too many sign-ups from your address",
            ),
        )
