"""Counts the SQL statements Tortoise sends, from its debug log.

Only statements sent from the counting context (and tasks it starts) count:
the release engine's workers poll the database in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["QueryCounter", "count_queries"]


_active: ContextVar[QueryCounter | None] = ContextVar("active_query_counter", default=None)


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _active.get() is not self:
            return
        message = record.getMessage()
        if message.lstrip().split(" ", 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            self.statements.append(message)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    token = _active.set(counter)
    try:
        yield counter
    finally:
        _active.reset(token)
        logger.removeHandler(counter)
        logger.setLevel(previous)
