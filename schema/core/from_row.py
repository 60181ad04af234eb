"""Object types built from database rows whose columns carry the fields' names."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["from_row"]

T = TypeVar("T")


def from_row(cls: type[T], row: object, **values: Any) -> T:
    """An instance of the Strawberry type `cls` whose fields are read from `row`.

    Each field the type is built with takes `row`'s attribute of the same
    name, unless `values` gives it (a converted value, or one the row lacks).
    """
    names = [
        field.name
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.init and field.name not in values
    ]
    return cls(**{name: getattr(row, name) for name in names}, **values)
