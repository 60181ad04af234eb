"""Subscriptions that end when their caller's rights do.

A subscription is authorised when it starts, then may run for hours. Each
one runs inside `while_allowed`, which looks at the caller again whenever the
rights manager announces that their rights may have changed (a disable, a
demotion, a removal from a project, a role edit, a revoked token: on any
replica), and every `RECHECK_SECONDS` in any case. If the caller's
credential no longer works, or the subscription's own check now fails, the
subscription ends with an error that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from home_idp.schema.core.context import Context, Info
from home_idp.server.errors import AuthenticationFailed, DomainError, PermissionDenied

__all__ = ["RECHECK_SECONDS", "Recheck", "still_admin", "while_allowed"]

T = TypeVar("T")

# Announcements reach subscriptions at once; this only bounds how long a
# change made without one (straight in the database) goes unnoticed.
RECHECK_SECONDS = 30.0

Recheck = Callable[[Context], Awaitable[object]]
"""The subscription's own rights check, run with a fresh context of the caller."""


async def _still_allowed(context: Context, recheck: Recheck) -> None:
    fresh = await context.renewed()  # AuthenticationFailed says why the credential died
    try:
        await recheck(fresh)
    except AuthenticationFailed:
        raise
    except DomainError as error:
        raise PermissionDenied(f"your rights have changed: {error.message}") from None


async def while_allowed(
    info: Info, items: AsyncGenerator[T, None], recheck: Recheck
) -> AsyncGenerator[T, None]:
    """Yield `items` for as long as the caller may see them.

    At most one item is read ahead, so a slow client still holds back the
    producer. `items` is closed when this ends, however it ends.
    """
    context = info.context
    user_id = context.principal.user_id
    async with contextlib.aclosing(items):
        if user_id is None:  # nothing to lose: anonymous callers see only public data
            async for item in items:
                yield item
            return
        async with (
            context.runtime.rbac.access.watch(user_id) as changes,
            contextlib.aclosing(_guarded(context, items, changes, recheck)) as guarded,
        ):
            async for item in guarded:
                yield item


async def _guarded(
    context: Context,
    items: AsyncGenerator[T, None],
    changes: AsyncIterator[object],
    recheck: Recheck,
) -> AsyncGenerator[T, None]:
    next_item: asyncio.Future[T] | None = None
    next_change: asyncio.Future[Any] = asyncio.ensure_future(anext(changes))
    try:
        while True:
            if next_item is None:
                next_item = asyncio.ensure_future(anext(items))
            done, _ = await asyncio.wait(
                {next_item, next_change},
                timeout=RECHECK_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
            # Rights first: an item that arrived with the change is not sent
            # before the caller has been looked at again.
            if next_change in done or not done:
                if next_change in done:
                    if next_change.exception() is not None:
                        # The watch fell behind or ended: look now, then rely
                        # on the periodic check alone.
                        next_change = asyncio.get_running_loop().create_future()
                    else:
                        next_change = asyncio.ensure_future(anext(changes))
                await _still_allowed(context, recheck)
            if next_item in done:
                try:
                    item = next_item.result()
                except StopAsyncIteration:
                    return
                next_item = None
                yield item
    finally:
        pending = [task for task in (next_item, next_change) if task is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def still_admin(context: Context) -> None:
    """The recheck of a subscription for administrators only."""
    context.rbac.authz.require_admin()
