"""A project's shared environment variables and secrets, which its apps may use.

An app uses one by naming it in its `shared_env`; a variable or secret of the
app's own with the same name wins. Secret values are encrypted at rest and
never returned.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from home_idp.server.apps import fields as app_fields
from home_idp.server.apps.models import App, AppSecret, ProjectVariable
from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.rbac.models import Project
from home_idp.server.secret_box import SecretBox

__all__ = ["MAX_PROJECT_VARIABLES", "ProjectVariableService", "apps_by_shared_name", "apps_using"]

MAX_PROJECT_VARIABLES = 200


async def apps_using(project_id: int, name: str) -> list[App]:
    """The project's apps that take `name` from the project (no value of their own)."""
    apps = [app for app in await App.filter(project_id=project_id) if name in app.shared_env]
    secrets = await AppSecret.filter(app_id__in=[a.id for a in apps], name=name).only("app_id")
    own_secret = {secret.app_id for secret in secrets}  # type: ignore[attr-defined]
    return [app for app in apps if name not in app.env and app.id not in own_secret]


async def apps_by_shared_name(project_id: int) -> dict[str, list[str]]:
    """Variable name → the names of the project's apps that list it in `shared_env`."""
    users: dict[str, list[str]] = {}
    for app in await App.filter(project_id=project_id).order_by("name"):
        for name in app.shared_env:
            users.setdefault(name, []).append(app.name)
    return users


class ProjectVariableService:
    """Reads and changes a project's shared variables, checked against the caller's roles.

    Plain variables need `config` rights, secrets `secret` rights, as for apps.
    """

    def __init__(self, authz: Authorizer, audit: AuditLog, secret_box: SecretBox) -> None:
        self._authz = authz
        self._audit = audit
        self._box = secret_box

    async def of_project(self, project: Project) -> list[ProjectVariable]:
        """Every variable; a secret's `value` is its ciphertext and must not be shown."""
        await self._authz.require("config", "read", project.name)
        return await ProjectVariable.filter(project_id=project.id).order_by("name")

    async def set(
        self, project_id: int, name: str, value: str, *, secret: bool
    ) -> tuple[Project, bool]:
        """Create or replace the variable; (the project, whether its value changed)."""
        project = await self._project(project_id, "secret" if secret else "config")
        author = self._authz.require_write().username
        app_fields.validate_env_name(name, "name")
        _validate_value(value, secret=secret)
        stored = self._box.encrypt(value) if secret else value
        async with in_transaction():
            await Project.filter(id=project.id).select_for_update().get()
            existing = await ProjectVariable.get_or_none(project_id=project.id, name=name)
            if existing is None:
                count = await ProjectVariable.filter(project_id=project.id).count()
                if count >= MAX_PROJECT_VARIABLES:
                    raise ValidationFailed.for_field(
                        "name", f"a project holds at most {MAX_PROJECT_VARIABLES} variables"
                    )
            elif existing.is_secret != secret:
                kind = "a secret" if existing.is_secret else "a plain variable"
                raise Conflict(f"{name} is {kind} of the project; delete it first to change that")
            elif self._plain(existing) == value:
                return project, False
            await ProjectVariable.update_or_create(
                defaults={"is_secret": secret, "value": stored, "updated_by": author},
                project_id=project.id,
                name=name,
            )
            # The audit trail names the variable, never its value.
            await self._record("project.set_variable", project, name, secret)
        return project, True

    async def delete(self, project_id: int, name: str) -> Project:
        found = await ProjectVariable.get_or_none(project_id=project_id, name=name)
        project = await self._project(
            project_id, "secret" if found and found.is_secret else "config"
        )
        self._authz.require_write()
        if found is None:
            raise NotFound(f"the project has no variable named {name[:60]!r}")
        async with in_transaction():
            # Under the project's lock: no app starts using it before it is gone.
            await Project.filter(id=project.id).select_for_update().get()
            users = (await apps_by_shared_name(project.id)).get(name)
            if users:
                raise Conflict(
                    f"{name} is used by {', '.join(users)}; remove it from their shared "
                    "variables first"
                )
            await ProjectVariable.filter(id=found.id).delete()
            await self._record("project.delete_variable", project, name, found.is_secret)
        return project

    def _plain(self, variable: ProjectVariable) -> str:
        return self._box.decrypt(variable.value) if variable.is_secret else variable.value

    async def _project(self, project_id: int, resource: str) -> Project:
        project = await Project.get_or_none(id=project_id)
        if project is None or not await self._authz.can("project", "read", project.name):
            raise NotFound("no such project")
        await self._authz.require(resource, "update", project.name)
        return project

    async def _record(self, action: str, project: Project, name: str, secret: bool) -> None:
        await self._audit.record(
            self._authz.principal,
            action,
            f"project:{project.name}",
            project=project.name,
            detail={"name": name, "secret": secret},
        )


def _validate_value(value: str, *, secret: bool) -> None:
    if secret:
        app_fields.validate_secret_value(value)
    elif len(value.encode()) > app_fields.MAX_ENV_VALUE or "\x00" in value:
        raise ValidationFailed.for_field(
            "value", f"must be 0 to {app_fields.MAX_ENV_VALUE} bytes of text"
        )
