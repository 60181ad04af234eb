"""deploy-manager data: webhook deliveries and the pushes they reported."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = ["DeliveryOutcome", "GitPush", "WebhookDelivery"]


class DeliveryOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"
    FAILED = "failed"


class WebhookDelivery(Model):
    # Every webhook request received, signed or not: the webhook inspector's data.
    id = fields.IntField(primary_key=True)
    source = fields.CharField(max_length=16, db_index=True)
    event = fields.CharField(max_length=64)
    delivery_id = fields.CharField(max_length=128, db_index=True)
    # "<source>:<delivery id>" for accepted deliveries only: a unique key that
    # makes a replay lose the insert race (NULLs never clash).
    dedupe_key = fields.CharField(max_length=200, null=True, unique=True)
    signature_ok = fields.BooleanField()
    outcome = fields.CharEnumField(DeliveryOutcome, max_length=16, db_index=True)
    detail = fields.TextField(default="")
    # Kept only for signed deliveries, so an admin can redeliver them.
    body = fields.TextField(null=True)
    headers: dict[str, Any] = fields.JSONField(default=dict)
    redelivery_of: fields.ForeignKeyNullableRelation[WebhookDelivery] = fields.ForeignKeyField(
        "home_idp.WebhookDelivery",
        related_name="redeliveries",
        null=True,
        on_delete=fields.SET_NULL,
    )
    received_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"


class GitPush(Model):
    # A commit a push webhook reported on the platform branch.
    #
    # Kept so a wait step that starts after its webhook arrived still sees it.
    id = fields.IntField(primary_key=True)
    sha = fields.CharField(max_length=64, unique=True)
    delivery: fields.ForeignKeyNullableRelation[WebhookDelivery] = fields.ForeignKeyField(
        "home_idp.WebhookDelivery", related_name="pushes", null=True, on_delete=fields.SET_NULL
    )
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "git_push"
