"""Columns and links that several of home-idp's tables declare the same way."""

from __future__ import annotations

from typing import TypeVar

from tortoise import fields
from tortoise.models import Model

__all__ = ["EditedByUser", "owned_by"]

OWNER = TypeVar("OWNER", bound=Model)


def owned_by(owner: str, related_name: str) -> fields.ForeignKeyRelation[OWNER]:
    """A link to the row this one is part of: deleting the owner deletes it too."""
    return fields.ForeignKeyField(owner, related_name=related_name, on_delete=fields.CASCADE)


class EditedByUser(Model):
    """A row users change through the API: who saved it last, and when."""

    updated_by = fields.CharField(max_length=40)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True
