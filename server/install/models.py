"""install-manager data: the last known state of each component."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

__all__ = ["Component"]


class Component(Model):
    # One row per component of the profile, written by the install-manager.
    name = fields.CharField(max_length=40, primary_key=True)
    chart = fields.CharField(max_length=300)
    version = fields.CharField(max_length=60)
    namespace = fields.CharField(max_length=63)
    # absent, installing, ready or failed
    status = fields.CharField(max_length=12, default="absent")
    message = fields.TextField(default="")
    revision = fields.IntField(null=True)
    # The digest of the values it was installed with: unchanged values, nothing to do.
    values_digest = fields.CharField(max_length=64, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "component"
