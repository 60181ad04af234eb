"""Release engine data: releases, their steps, the job queue and the event log."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.model_fields import owned_by

__all__ = ["Job", "Release", "ReleaseEvent", "ReleaseStatus", "ReleaseStep", "StepState"]


class ReleaseStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # A newer push overtook it before its build started: only the newest commit is built.
    SUPERSEDED = "superseded"


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Release(Model):
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = owned_by("home_idp.App", "releases")
    number = fields.IntField()
    dockerfile_version: fields.ForeignKeyRelation[DockerfileVersion] = owned_by(
        "home_idp.DockerfileVersion", "releases"
    )
    trigger = fields.CharField(max_length=32)
    created_by = fields.CharField(max_length=40)
    status = fields.CharEnumField(ReleaseStatus, max_length=16, default=ReleaseStatus.RUNNING)
    # The app's source commit the image is built from: given by the push or
    # poll that started the release, or found by the build step.
    source_sha = fields.CharField(max_length=64, null=True)
    source_author = fields.CharField(max_length=200, null=True)
    source_message = fields.TextField(null=True)
    source_url = fields.CharField(max_length=500, null=True)
    # Filled in by the steps as they go (commit_sha: the platform repo's).
    commit_sha = fields.CharField(max_length=64, null=True, db_index=True)
    image = fields.CharField(max_length=500, null=True)
    digest = fields.CharField(max_length=100, null=True)
    # The release's trace, and its root span's id (chosen when it is created).
    trace_id = fields.CharField(max_length=32, null=True, db_index=True)
    span_id = fields.CharField(max_length=16, null=True)
    # The platform-repo commit of the release's manifests, and what they were
    # before and after it (file name -> YAML), for the release's plan.
    manifests_sha = fields.CharField(max_length=64, null=True, db_index=True)
    manifests_before: dict[str, str] | None = fields.JSONField(null=True)
    manifests: dict[str, str] | None = fields.JSONField(null=True)
    # Where the app answers once this release is rolled out, if the deployer knows.
    url = fields.CharField(max_length=500, null=True)
    # What the app's settings were for this release (port, replicas, health
    # path, env, files; secret names only), so a rollback renders it again.
    settings: dict[str, Any] | None = fields.JSONField(null=True)
    # While the release is watched after its rollout: until when.
    verify_until = fields.DatetimeField(null=True)
    # The release started to roll this one back automatically, if one was.
    rolled_back_by_id = fields.IntField(null=True)
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "release"
        unique_together = (("app", "number"),)


class ReleaseStep(Model):
    id = fields.IntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = owned_by("home_idp.Release", "steps")
    position = fields.IntField()
    name = fields.CharField(max_length=40)
    state = fields.CharEnumField(StepState, max_length=16, default=StepState.PENDING, db_index=True)
    attempts = fields.IntField(default=0)
    # Set when the step starts; passing it fails the step (and the release).
    deadline = fields.DatetimeField(null=True)
    error = fields.TextField(null=True)
    # What the step found or did, e.g. {"advanced_by": "webhook"}.
    detail: dict[str, Any] = fields.JSONField(default=dict)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    # The step's span in the release's trace, chosen when the step starts (a
    # retry starts a new one); its children point at it while it runs.
    span_id = fields.CharField(max_length=16, null=True)

    class Meta:
        table = "release_step"
        unique_together = (("release", "position"),)


class Job(Model):
    # The durable work queue: one row per step that a worker should run.
    id = fields.IntField(primary_key=True)
    step: fields.OneToOneRelation[ReleaseStep] = fields.OneToOneField(
        "home_idp.ReleaseStep", related_name="job", on_delete=fields.CASCADE
    )
    due_at = fields.DatetimeField(db_index=True)
    # A worker holds the job until lease_until; a dead worker's job is claimed again.
    leased_by = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "job"


class ReleaseEvent(Model):
    # Every state change of a release or a step; the id is the resume cursor.
    id = fields.BigIntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = owned_by("home_idp.Release", "events")
    app_id = fields.IntField(db_index=True)
    project = fields.CharField(max_length=63)
    step = fields.CharField(max_length=40, null=True)
    state = fields.CharField(max_length=16)
    message = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "release_event"
