"""deploy-manager data: webhook deliveries, the pushes they reported, build logs."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from home_idp.server.model_fields import owned_by
from home_idp.server.pipeline.models import Release
from home_idp.server.rbac.models import Project

__all__ = [
    "BuildLogLine",
    "DeliveryOutcome",
    "GitPush",
    "PlatformRepoRecord",
    "RegistryAccount",
    "RegistryPush",
    "WebhookDelivery",
]


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


class RegistryPush(Model):
    # An image push a registry webhook reported: `<repository>:<tag>` is `digest`.
    #
    # Kept so a wait step that starts after its webhook arrived still sees it.
    id = fields.IntField(primary_key=True)
    repository = fields.CharField(max_length=255)
    tag = fields.CharField(max_length=128, null=True)
    digest = fields.CharField(max_length=100)
    delivery: fields.ForeignKeyNullableRelation[WebhookDelivery] = fields.ForeignKeyField(
        "home_idp.WebhookDelivery",
        related_name="image_pushes",
        null=True,
        on_delete=fields.SET_NULL,
    )
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "registry_push"
        unique_together = (("repository", "tag", "digest"),)


class RegistryAccount(Model):
    # The registry accounts of one project (push and pull), encrypted at rest:
    # Harbor shows a robot's secret only once, so home-idp keeps it.
    id = fields.IntField(primary_key=True)
    project: fields.OneToOneRelation[Project] = fields.OneToOneField(
        "home_idp.Project", related_name="registry_account", on_delete=fields.CASCADE
    )
    ciphertext = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "registry_account"


class BuildLogLine(Model):
    # One line a build printed, secrets masked; `seq` counts per release and
    # is the resume cursor of the build log subscription.
    id = fields.BigIntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = owned_by("home_idp.Release", "log_lines")
    step = fields.CharField(max_length=40)
    seq = fields.IntField()
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "build_log_line"
        unique_together = (("release", "seq"),)


class PlatformRepoRecord(Model):
    # The local platform repo that the servers on this database share: the id
    # kept in the repo (written there on first start), and where that was, for
    # the refusal of a replica that has a repo of its own.
    name = fields.CharField(max_length=63, primary_key=True)
    repo_id = fields.CharField(max_length=64)
    data_dir = fields.TextField()
    host = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "platform_repo"
