"""Apps inside a project: their settings and their secrets."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.apps import fields as app_fields
from home_idp.server.apps.models import App, AppSecret, ProjectVariable, SourceCredential
from home_idp.server.apps.source_hosts import SourceHostPolicy, source_origin
from home_idp.server.apps.source_reader import RefNotFound, SourceProblem, SourceReader
from home_idp.server.apps.watch_paths import validate_watch_paths
from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.names import validate_dns_label
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.rbac.models import Project
from home_idp.server.secret_box import SecretBox

__all__ = ["AppChanges", "AppService"]


@dataclass(frozen=True)
class AppChanges:
    """Fields to set on an app; None leaves a field as it is."""

    source_repo: str | None = None
    source_ref: str | None = None
    context_path: str | None = None
    port: int | None = None
    replicas: int | None = None
    health_path: str | None = None
    env: dict[str, str] | None = None
    # '' removes the Ingress.
    ingress_host: str | None = None
    shared_env: list[str] | None = None
    auto_deploy: bool | None = None
    watch_paths: list[str] | None = None
    stability_seconds: int | None = None
    auto_rollback: bool | None = None

    def validated(self) -> dict[str, Any]:
        checks: dict[str, Callable[[Any], Any]] = {
            "source_repo": app_fields.validate_source_repo,
            "source_ref": app_fields.validate_source_ref,
            "context_path": app_fields.validate_context_path,
            "port": app_fields.validate_port,
            "replicas": app_fields.validate_replicas,
            "health_path": app_fields.validate_health_path,
            "env": app_fields.validate_env,
            "ingress_host": app_fields.validate_ingress_host,
            "shared_env": app_fields.validate_shared_env,
            "auto_deploy": bool,
            "watch_paths": validate_watch_paths,
            "stability_seconds": app_fields.validate_stability_seconds,
            "auto_rollback": bool,
        }
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: checks[name](value) for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class AppService:
    """CRUD on apps and their secrets, checked against the caller's project roles."""

    authz: Authorizer
    audit: AuditLog
    secret_box: SecretBox
    source_hosts: SourceHostPolicy
    source: SourceReader

    async def in_project(self, project: Project) -> QuerySet[App]:
        await self.authz.require("app", "read", project.name)
        return App.filter(project_id=project.id)

    async def get(self, app_id: int, action: str = "read", resource: str = "app") -> App:
        """The app, if the caller may read it (NotFound otherwise) and do `action`."""
        app = await App.get_or_none(id=app_id).prefetch_related("project")
        if app is None or not await self.authz.can("app", "read", app.project.name):
            raise NotFound("no such app")
        if action != "read" or resource != "app":
            await self.authz.require(resource, action, app.project.name)
        return app

    async def create(self, project_id: int, name: str, changes: AppChanges) -> App:
        project = await Project.get_or_none(id=project_id)
        if project is None or not await self.authz.can("project", "read", project.name):
            raise NotFound("no such project")
        await self.authz.require("app", "create", project.name)
        validate_dns_label(name)
        if changes.source_repo is None:
            raise ValidationFailed.for_field("sourceRepo", "is required")
        values = await self._validated(changes)
        await self._check_ref(App(project=project, **values))
        try:
            async with in_transaction():
                await self._check_shared_names(project, values.get("shared_env"), [])
                if await App.exists(project_id=project.id, name=name):
                    raise Conflict(f"app {name!r} already exists in {project.name!r}")
                app = await App.create(project=project, name=name, **values)
                await self._record("app.create", app, project.name)
        except IntegrityError as error:
            raise Conflict(f"app {name!r} already exists in {project.name!r}") from error
        app.project = project
        return app

    async def update(self, app_id: int, changes: AppChanges) -> App:
        app = await self.get(app_id, "update")
        values = await self._validated(changes)
        if {"source_repo", "source_ref"} & values.keys():
            await self._check_ref(
                App(
                    id=app.id,
                    project=app.project,
                    source_repo=values.get("source_repo", app.source_repo),
                    source_ref=values.get("source_ref", app.source_ref),
                )
            )
        async with in_transaction():
            # Change the row as it is now, under its lock: saving the copy read
            # above would undo a concurrent update of other fields.
            locked = await App.filter(id=app.id).select_for_update().first()
            if locked is None:
                raise NotFound("no such app")
            await self._check_shared_names(app.project, values.get("shared_env"), locked.shared_env)
            changed = sorted(values)
            moved = "source_repo" in values and source_origin(
                values["source_repo"]
            ) != source_origin(locked.source_repo)
            if moved and await SourceCredential.filter(app_id=app.id).delete():
                # The credential was for the old host; it does not follow the URL.
                changed.append("source_credential")
            locked.update_from_dict(values)
            await locked.save()
            locked.project = app.project
            await self._record("app.update", locked, app.project.name, changed)
        return locked

    async def new_webhook_secret(self, app_id: int) -> tuple[App, str]:
        """A new secret for the app's source webhooks (the old one stops working);
        it is shown this once and stored encrypted."""
        app = await self.get(app_id, "update")
        self.authz.require_write()
        secret = secrets.token_urlsafe(32)
        await App.filter(id=app.id).update(
            source_webhook_ciphertext=self.secret_box.encrypt(secret)
        )
        await self._record("app.source_webhook_secret", app, app.project.name)
        return app, secret

    async def _check_ref(self, app: App) -> None:
        """Refuse a branch the repository does not have. A repository that cannot be
        read now is no reason to refuse: the app shows why later (sourceError)."""
        try:
            await self.source.head(app)
        except RefNotFound as missing:
            raise ValidationFailed.for_field("sourceRef", str(missing)) from None
        except SourceProblem:
            return

    async def _validated(self, changes: AppChanges) -> dict[str, Any]:
        values = changes.validated()
        if "source_repo" in values:
            await self.source_hosts.check_when_saved(values["source_repo"])
        return values

    async def delete(
        self,
        app_id: int,
        *,
        check: Callable[[App], Awaitable[None]] | None = None,
    ) -> App:
        """Delete the app's rows (secrets, Dockerfile versions and releases cascade).

        `check` runs in the deleting transaction with the app's row locked, so
        what it sees cannot change before the rows go; it raises to keep them.
        Only the rows: the deploy-manager's teardown stops what runs the app first.
        """
        app = await self.get(app_id, "delete")
        async with in_transaction():
            if await App.filter(id=app.id).select_for_update().first() is None:
                raise NotFound("no such app")
            if check is not None:
                await check(app)
            await app.delete()
            await self._record("app.delete", app, app.project.name)
        return app

    async def secrets(self, app: App) -> list[AppSecret]:
        """Which secrets are set (names and times); values are never returned."""
        await self.authz.require("secret", "read", app.project.name)
        return await AppSecret.filter(app_id=app.id).order_by("name")

    async def set_secret(self, app_id: int, name: str, value: str) -> App:
        app = await self.get(app_id, "update", "secret")
        app_fields.validate_env_name(name, "name")
        app_fields.validate_secret_value(value)
        author = self.authz.require_write().username
        async with in_transaction():
            await AppSecret.update_or_create(
                defaults={"ciphertext": self.secret_box.encrypt(value), "updated_by": author},
                app_id=app.id,
                name=name,
            )
            # The audit trail names the secret, never its value.
            await self._record("app.set_secret", app, app.project.name, [name])
        return app

    async def delete_secret(self, app_id: int, name: str) -> App:
        app = await self.get(app_id, "update", "secret")
        async with in_transaction():
            if not await AppSecret.filter(app_id=app.id, name=name).delete():
                raise NotFound(f"the app has no secret named {name[:60]!r}")
            await self._record("app.delete_secret", app, app.project.name, [name])
        return app

    async def _check_shared_names(
        self, project: Project, names: list[str] | None, before: list[str]
    ) -> None:
        """Every name an app takes from its project must be one of the project's variables,
        and taking a secret needs the right to set secrets.

        Called in the transaction that saves the app, under the project's lock, so
        a variable cannot be deleted between this check and the save.
        """
        if not names:
            return
        await Project.filter(id=project.id).select_for_update().get()
        rows = await ProjectVariable.filter(project_id=project.id, name__in=names)
        known = {row.name: row.is_secret for row in rows}
        missing = [name for name in names if name not in known]
        if missing:
            raise ValidationFailed.for_field(
                "sharedEnv", f"the project has no variable named {', '.join(missing)[:120]}"
            )
        # Whoever picks a secret decides which image receives it.
        if any(known[name] for name in names if name not in before):
            await self.authz.require("secret", "update", project.name)

    async def _record(
        self, action: str, app: App, project: str, fields_changed: list[str] | None = None
    ) -> None:
        detail = {"fields": fields_changed} if fields_changed is not None else None
        await self.audit.record_app(self.authz.principal, action, project, app.name, detail)
