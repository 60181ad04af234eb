"""The apps room's tables: apps, their files, secrets, source credentials and Dockerfile versions,
and the project variables they may use."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from home_idp.server.model_fields import EditedByUser, owned_by
from home_idp.server.rbac.models import Project

__all__ = [
    "App",
    "AppFile",
    "AppSecret",
    "DockerfileVersion",
    "ProjectVariable",
    "SourceCredential",
]


class App(Model):
    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = owned_by("home_idp.Project", "apps")
    name = fields.CharField(max_length=63)
    source_repo = fields.CharField(max_length=500)
    source_ref = fields.CharField(max_length=255, default="main")
    context_path = fields.CharField(max_length=255, default=".")
    port = fields.IntField(default=8080)
    replicas = fields.IntField(default=1)
    health_path = fields.CharField(max_length=255, default="/")
    # Plain (non-secret) environment variables: name -> value.
    env: dict[str, str] = fields.JSONField(default=dict)
    # Names of the project's shared variables and secrets the app uses; its
    # own variable or secret of the same name wins.
    shared_env: list[str] = fields.JSONField(default=list)
    # The host name of an Ingress, if the app wants one (cluster mode).
    ingress_host = fields.CharField(max_length=253, null=True)
    # The release that serves now (a plain id: releases point at apps already).
    live_release_id = fields.IntField(null=True)
    # Push to deploy: a new commit on `source_ref` starts a release, unless no
    # changed path matches one of `watch_paths` (gitignore-style globs; none
    # means every path).
    auto_deploy = fields.BooleanField(default=True)
    watch_paths: list[str] = fields.JSONField(default=list)
    # The secret source webhooks are signed with (a Fernet token), if one was made.
    source_webhook_ciphertext = fields.TextField(null=True)
    # The newest source commit home-idp acted on (built, or skipped by the watch
    # paths): a poll or push that finds the same commit starts nothing.
    source_seen_sha = fields.CharField(max_length=64, null=True)
    # Why the source could not be looked at the last time, until it can again.
    source_error = fields.TextField(null=True)
    source_checked_at = fields.DatetimeField(null=True)
    # Release truth: a rolled-out release is watched this long (None: the
    # server's setting) before it succeeds; one that fails its rollout or its
    # watch after replacing a live release is rolled back to it, if asked.
    stability_seconds = fields.IntField(null=True)
    auto_rollback = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "app"
        unique_together = (("project", "name"),)


class AppSecret(EditedByUser):
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = owned_by("home_idp.App", "secrets")
    name = fields.CharField(max_length=253)
    # Fernet token; the plaintext never leaves the server through the API.
    ciphertext = fields.TextField()

    class Meta:
        table = "app_secret"
        unique_together = (("app", "name"),)


class SourceCredential(EditedByUser):
    # How builds sign in to the app's source repository: a token for HTTPS or a
    # deploy key for ssh, never the server's own keys. Encrypted at rest (a
    # Fernet token of a JSON object); only its kind and user name are shown.
    id = fields.IntField(primary_key=True)
    app: fields.OneToOneRelation[App] = fields.OneToOneField(
        "home_idp.App", related_name="source_credential", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)
    # scheme://host:port of the source it was set for: it is never sent anywhere else.
    origin = fields.CharField(max_length=300)
    username = fields.CharField(max_length=100, null=True)
    ciphertext = fields.TextField()

    class Meta:
        table = "app_source_credential"


class AppFile(EditedByUser):
    # A config file the app's containers see read-only at `mount_path`
    # (a ConfigMap in cluster mode, a bind mount in local mode).
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = owned_by("home_idp.App", "files")
    name = fields.CharField(max_length=253)
    mount_path = fields.CharField(max_length=1024)
    content = fields.TextField()
    size = fields.IntField()

    app_id: int

    class Meta:
        table = "app_file"
        unique_together = (("app", "name"),)


class ProjectVariable(EditedByUser):
    # An environment variable or secret every app of the project may use.
    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = owned_by("home_idp.Project", "variables")
    name = fields.CharField(max_length=253)
    is_secret = fields.BooleanField()
    # The plain value, or for a secret its Fernet token (never returned).
    value = fields.TextField()

    project_id: int

    class Meta:
        table = "project_variable"
        unique_together = (("project", "name"),)


class DockerfileVersion(Model):
    # One saved Dockerfile; never changed after it is written.
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = owned_by("home_idp.App", "dockerfile_versions")
    number = fields.IntField()
    content = fields.TextField()
    author = fields.CharField(max_length=40)
    message = fields.CharField(max_length=500)
    lint_findings: list[dict[str, Any]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dockerfile_version"
        unique_together = (("app", "number"),)
