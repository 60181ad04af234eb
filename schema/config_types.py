"""The GraphQL types of an app's config: files, and variables from the app or its project."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from home_idp.server.apps import config as app_config
from home_idp.server.apps import models as app_models

__all__ = ["AppFile", "EnvEntry", "ProjectVariable", "SourceCredentialStatus"]


@strawberry.type(
    description="How builds sign in to the app's source repository; its secret is never shown."
)
class SourceCredentialStatus:
    kind: str = strawberry.field(description="`token` (https) or `ssh-key` (a deploy key).")
    username: str | None
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_model(cls, credential: app_models.SourceCredential) -> Self:
        return cls(
            kind=credential.kind,
            username=credential.username,
            updated_by=credential.updated_by,
            updated_at=credential.updated_at,
        )


@strawberry.type(description="A config file the app's containers see read-only at mountPath.")
class AppFile:
    name: str = strawberry.field(description="The file name (the ConfigMap key).")
    mount_path: str = strawberry.field(description="The file's absolute path in the container.")
    size: int = strawberry.field(description="In bytes.")
    content: str
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_model(cls, file: app_models.AppFile) -> Self:
        return cls(
            name=file.name,
            mount_path=file.mount_path,
            size=file.size,
            content=file.content,
            updated_by=file.updated_by,
            updated_at=file.updated_at,
        )


@strawberry.type(
    description="A variable or secret of a project that its apps may use; a secret's "
    "value is never returned."
)
class ProjectVariable:
    name: str
    is_secret: bool
    value: str | None = strawberry.field(description="Null for a secret.")
    used_by: list[str] = strawberry.field(description="The names of the apps that use it.")
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_model(cls, variable: app_models.ProjectVariable, used_by: list[str]) -> Self:
        return cls(
            name=variable.name,
            is_secret=variable.is_secret,
            value=None if variable.is_secret else variable.value,
            used_by=used_by,
            updated_by=variable.updated_by,
            updated_at=variable.updated_at,
        )


@strawberry.type(description="A variable the app names, and where its value comes from.")
class EnvEntry:
    name: str
    source: str = strawberry.field(description="`app` or `project`.")
    is_secret: bool
    value: str | None = strawberry.field(description="Null for a secret.")
    overridden: bool = strawberry.field(
        description="A project variable the app overrides with its own value."
    )

    @classmethod
    def from_entry(cls, entry: app_config.EnvEntry) -> Self:
        return cls(
            name=entry.name,
            source=entry.source,
            is_secret=entry.secret,
            value=entry.value,
            overridden=entry.overridden,
        )
