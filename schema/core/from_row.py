"""Dataclasses built from an object whose attributes carry the fields' names: an
object type from a database row or a domain value, a domain value from an input."""

from __future__ import annotations

import dataclasses
from typing import Any, Self, TypeVar

__all__ = ["FromRow", "from_row"]

T = TypeVar("T")


def from_row(cls: type[T], row: object, /, **values: Any) -> T:
    """An instance of the dataclass `cls` (a Strawberry type is one) whose fields
    are read from `row`.

    Each field the class is built with takes `row`'s attribute of the same
    name, unless `values` gives it (a converted value, or one the row lacks).
    """
    names = [
        field.name
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.init and field.name not in values
    ]
    return cls(**{name: getattr(row, name) for name in names}, **values)


class FromRow:
    """An object type made from a row by `from_model`, which reads every field
    from the row's attribute of the same name; a type whose fields need more
    (a converted value, one the row lacks) overrides it."""

    @classmethod
    def from_model(cls, row: Any) -> Self:
        return from_row(cls, row)
