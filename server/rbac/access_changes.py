"""Announcements that someone's rights may have changed, for live subscriptions.

A subscription keeps running long after it was authorised. When an
administrator disables or demotes a user, removes a member, changes a role or
revokes an API token, the manager announces it here after the change has
committed; every running subscription of the users concerned then looks at
their rights again and ends if they are gone. With several replicas on
Postgres the announcement goes through NOTIFY, so subscriptions on every
replica hear it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from home_idp.server.events import EventBus, KeyedBroadcast, merged

__all__ = ["ACCESS_CHANNEL", "AccessChanges"]

log = logging.getLogger(__name__)

ACCESS_CHANNEL = "home_idp_access_changes"
# The payload for a change that may touch anyone (a role's policies).
_EVERYONE = "*"
_MAX_PAYLOAD = 7000


def _topic(who: int | str) -> str:
    return f"access:{who}"


class AccessChanges(KeyedBroadcast):
    """Tells live subscriptions, on every replica, whose rights may have changed."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus, ACCESS_CHANNEL, _topic)

    async def announce(self, user_ids: Iterable[int] | None) -> None:
        """Call after the change has committed; `None` means anyone may be concerned."""
        payload = _EVERYONE if user_ids is None else ",".join(str(i) for i in sorted(user_ids))
        if len(payload) > _MAX_PAYLOAD:
            # Postgres refuses a NOTIFY payload of 8000 bytes or more: tell everyone
            # to look again rather than tell no other replica.
            payload = _EVERYONE
        if not payload:
            return
        notifier = self._shared_notifier
        if notifier is not None:
            try:
                await notifier.notify(ACCESS_CHANNEL, payload)
                return
            except Exception:  # the database may be briefly away: tell this replica at least
                log.exception("could not announce an access change through the database")
        self._deliver(payload.split(","))

    @contextlib.asynccontextmanager
    async def watch(self, user_id: int) -> AsyncIterator[AsyncIterator[object]]:
        """Changes that may concern `user_id`: theirs and those of anyone."""
        async with (
            self._bus.subscribe(_topic(user_id)) as own,
            self._bus.subscribe(_topic(_EVERYONE)) as anyone,
            merged(own, anyone) as changes,
        ):
            yield changes
