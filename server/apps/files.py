"""An app's config files: stored here, mounted read-only into its containers."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from home_idp.server.apps.file_fields import (
    MAX_APP_FILES,
    MAX_FILES_BYTES,
    validate_content,
    validate_file_name,
    validate_mount_path,
)
from home_idp.server.apps.models import App, AppFile
from home_idp.server.apps.service import AppService
from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer

__all__ = ["AppFileService"]


def _overlaps(path: str, other: str) -> bool:
    """Whether one path is the other, or a folder holding it: two mounts would clash."""
    return path == other or path.startswith(other + "/") or other.startswith(path + "/")


class AppFileService:
    """Lists, writes and deletes an app's config files, checked against its project."""

    def __init__(self, authz: Authorizer, audit: AuditLog, apps: AppService) -> None:
        self._authz = authz
        self._audit = audit
        self._apps = apps

    async def put(self, app_id: int, name: str, mount_path: str, content: str) -> tuple[App, bool]:
        """Create or replace the file `name`; (the app, whether anything changed).

        Nothing changes when any check fails.
        """
        app = await self._apps.get(app_id, "update", "config")
        author = self._authz.require_write().username
        validate_file_name(name)
        validate_mount_path(mount_path)
        size = validate_content(content)
        async with in_transaction():
            # The app's row lock makes the checks below hold for this write.
            await App.filter(id=app.id).select_for_update().get()
            same = await AppFile.get_or_none(app_id=app.id, name=name)
            if same is not None and (same.mount_path, same.content) == (mount_path, content):
                return app, False
            others = await AppFile.filter(app_id=app.id).exclude(name=name)
            for other in others:
                if _overlaps(mount_path, other.mount_path):
                    raise Conflict(
                        f"{mount_path} clashes with the mount path of {other.name} "
                        f"({other.mount_path})"
                    )
            if len(others) >= MAX_APP_FILES:
                raise ValidationFailed.for_field(
                    "name", f"an app holds at most {MAX_APP_FILES} files"
                )
            if sum(other.size for other in others) + size > MAX_FILES_BYTES:
                raise ValidationFailed.for_field(
                    "content",
                    f"an app's files hold at most {MAX_FILES_BYTES // (1024 * 1024)} MiB together",
                )
            await AppFile.update_or_create(
                defaults={
                    "mount_path": mount_path,
                    "content": content,
                    "size": size,
                    "updated_by": author,
                },
                app_id=app.id,
                name=name,
            )
            await self._record("app.put_file", app, {"file": name, "mount_path": mount_path})
        return app, True

    async def delete(self, app_id: int, name: str) -> App:
        app = await self._apps.get(app_id, "update", "config")
        self._authz.require_write()
        async with in_transaction():
            if not await AppFile.filter(app_id=app.id, name=name).delete():
                raise NotFound(f"the app has no file named {name[:60]!r}")
            await self._record("app.delete_file", app, {"file": name})
        return app

    async def _record(self, action: str, app: App, detail: dict[str, object]) -> None:
        await self._audit.record_app(
            self._authz.principal, action, app.project.name, app.name, detail
        )
