"""Projects and their members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.names import validate_dns_label, validate_project_name
from home_idp.server.rbac.caller_service import CallerService
from home_idp.server.rbac.models import Membership, Project, Role, User, UserStatus
from home_idp.server.rbac.roles import ADMIN_ROLE

__all__ = ["MAX_DESCRIPTION", "ProjectService"]

MAX_DESCRIPTION = 500
CREATOR_ROLE = "maintainer"


def _validate_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed.for_field(
            "description", f"must be at most {MAX_DESCRIPTION} characters"
        )
    return description


class ProjectService(CallerService):
    """Create, read, change and delete projects, and manage who belongs to them."""

    async def visible(self) -> QuerySet[Project]:
        """Projects the caller may read: all for admins, their own for others."""
        principal = self._authz.require_user()
        if principal.is_admin:
            return Project.all()
        names = [
            name
            for name in await self._authz.member_projects()
            if await self._authz.can("project", "read", name)
        ]
        return Project.filter(name__in=names)

    async def get(
        self, project_id: int, action: str = "read", resource: str = "project"
    ) -> Project:
        """The project, if the caller may read it (NotFound otherwise) and do `action`."""
        project = await Project.get_or_none(id=project_id)
        if project is None or not await self._authz.can("project", "read", project.name):
            raise NotFound("no such project")
        if action != "read" or resource != "project":
            await self._authz.require(resource, action, project.name)
        return project

    async def get_by_name(self, name: str) -> Project:
        # A name no project can have is the caller's mistake, said as such.
        validate_dns_label(name)
        project = await Project.get_or_none(name=name)
        if project is None or not await self._authz.can("project", "read", project.name):
            raise NotFound("no such project")
        return project

    async def create(self, name: str, description: str) -> Project:
        """Any approved user may create a project and becomes its maintainer."""
        principal = self._authz.require_write()
        validate_project_name(name)
        _validate_description(description)
        try:
            async with in_transaction():
                if await Project.exists(name=name):
                    raise Conflict(f"project {name!r} already exists")
                project = await Project.create(name=name, description=description)
                role = await Role.get(name=CREATOR_ROLE)
                await Membership.create(user_id=principal.user_id, project=project, role=role)
                await self._audit.record(
                    principal, "project.create", f"project:{name}", project=name
                )
        except IntegrityError as error:  # lost a race with an identical create
            raise Conflict(f"project {name!r} already exists") from error
        self._authz.forget()
        return project

    async def update(self, project_id: int, description: str) -> Project:
        project = await self.get(project_id, "update")
        _validate_description(description)
        async with in_transaction():
            project.description = description
            await project.save(update_fields=["description"])
            await self._record("project.update", f"project:{project.name}", project)
        return project

    async def delete(
        self, project_id: int, *, in_use: Callable[[Project], Awaitable[list[str]]]
    ) -> str:
        """Delete the project and its memberships, unless something still uses it.

        `in_use` names what would go with the project's rows (its apps) while it
        keeps running; it is asked in the deleting transaction, with the
        project's row locked, and anything it names refuses the delete.
        """
        project = await self.get(project_id, "delete")
        members = [m.user_id for m in await Membership.filter(project_id=project.id)]
        async with in_transaction():
            if await Project.filter(id=project.id).select_for_update().first() is None:
                raise NotFound("no such project")
            users = await in_use(project)
            if users:
                raise Conflict(f"project {project.name!r} still has apps: {', '.join(users)[:300]}")
            await project.delete()  # memberships cascade
            await self._record("project.delete", f"project:{project.name}", project)
        self._authz.forget()
        await self._access.announce(members)
        return project.name

    async def members(self, project: Project) -> QuerySet[Membership]:
        await self._authz.require("member", "read", project.name)
        return Membership.filter(project_id=project.id)

    async def add_member(self, project_id: int, username: str, role_name: str) -> Membership:
        project = await self.get(project_id, "create", "member")
        user, role = await _member_user(username), await _assignable_role(role_name)
        try:
            async with in_transaction():
                if await Membership.exists(user=user, project=project):
                    raise Conflict(f"{username!r} is already a member of {project.name!r}")
                membership = await Membership.create(user=user, project=project, role=role)
                await self._record(
                    "project.add_member", f"user:{username}", project, {"role": role.name}
                )
        except IntegrityError as error:
            raise Conflict(f"{username!r} is already a member of {project.name!r}") from error
        self._authz.forget()
        return membership

    async def set_member_role(self, project_id: int, username: str, role_name: str) -> Membership:
        project = await self.get(project_id, "update", "member")
        role = await _assignable_role(role_name)
        async with in_transaction():
            membership = await _membership(project, username)
            membership.role = role
            await membership.save(update_fields=["role_id"])
            await self._record(
                "project.set_member_role", f"user:{username}", project, {"role": role.name}
            )
        self._authz.forget()
        await self._access.announce([membership.user_id])
        return membership

    async def remove_member(self, project_id: int, username: str) -> str:
        project = await self.get(project_id, "delete", "member")
        async with in_transaction():
            membership = await _membership(project, username)
            await membership.delete()
            await self._record("project.remove_member", f"user:{username}", project)
        self._authz.forget()
        await self._access.announce([membership.user_id])
        return username

    async def _record(
        self, action: str, target: str, project: Project, detail: dict[str, Any] | None = None
    ) -> None:
        await self._audit.record(
            self._authz.principal, action, target, project=project.name, detail=detail
        )


async def _member_user(username: str) -> User:
    user = await User.get_or_none(username=username)
    if user is None or user.status is not UserStatus.ACTIVE:
        raise ValidationFailed.for_field("username", "no active user has this name")
    return user


async def _assignable_role(role_name: str) -> Role:
    if role_name == ADMIN_ROLE:
        raise ValidationFailed.for_field(
            "role", "admin is a global role; grant it with setUserAdmin"
        )
    role = await Role.get_or_none(name=role_name)
    if role is None:
        raise ValidationFailed.for_field("role", f"no role is named {role_name!r}")
    return role


async def _membership(project: Project, username: str) -> Membership:
    membership = await Membership.get_or_none(project=project, user__username=username)
    if membership is None:
        raise NotFound(f"{username!r} is not a member of {project.name!r}")
    return membership
