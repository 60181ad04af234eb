"""Counts the SQL statements Tortoise sends, from its debug log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["QueryCounter", "count_queries"]


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
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
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)
