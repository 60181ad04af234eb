"""Roles and their policies."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.rbac_types import Role
from home_idp.schema.relay import Connection, check_page_size, connection_from_queryset, decode_id

__all__ = ["RoleMutation", "RoleQuery"]


@strawberry.input(description="One policy. Unknown resources or actions are a ValidationError.")
class PolicyInput:
    effect: str = strawberry.field(description="allow or deny")
    resource: str
    action: str
    project_pattern: str = "*"

    def as_dict(self) -> dict[str, object]:
        return {
            "effect": self.effect,
            "resource": self.resource,
            "action": self.action,
            "project_pattern": self.project_pattern,
        }


@strawberry.input
class CreateRoleInput:
    name: str
    description: str = ""
    policies: list[PolicyInput]


@strawberry.input
class UpdateRoleInput:
    id: relay.GlobalID
    description: str | None = None
    policies: list[PolicyInput] | None = strawberry.field(
        default=None, description="Replaces every policy of the role."
    )


@strawberry.input
class DeleteRoleInput:
    id: relay.GlobalID


@strawberry.type
class RoleSuccess:
    role: Role


@strawberry.type
class DeleteRoleSuccess:
    deleted_name: str


RoleResult = Annotated[RoleSuccess | ErrorTypes, strawberry.union("RoleResult")]
DeleteRoleResult = Annotated[DeleteRoleSuccess | ErrorTypes, strawberry.union("DeleteRoleResult")]


@strawberry.type
class RoleQuery:
    @strawberry.field(
        description="Built-in and custom roles.", permission_classes=[IsAuthenticated]
    )
    async def roles(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Role]:
        check_page_size(first, info.context.max_page_size)
        return await connection_from_queryset(
            info.context.rbac.roles.list(), first, after, Role.from_model
        )


@strawberry.type
class RoleMutation:
    @strawberry.mutation(description="Define a custom role (admins).")
    async def create_role(self, info: Info, input: CreateRoleInput) -> RoleResult:
        async def body() -> RoleSuccess:
            role = await info.context.rbac.roles.create(
                input.name, input.description, [p.as_dict() for p in input.policies]
            )
            return RoleSuccess(role=Role.from_model(role))

        return await run_mutation(info, "role.create", body)

    @strawberry.mutation(description="Change a custom role (admins).")
    async def update_role(self, info: Info, input: UpdateRoleInput) -> RoleResult:
        async def body() -> RoleSuccess:
            policies = [p.as_dict() for p in input.policies] if input.policies is not None else None
            role = await info.context.rbac.roles.update(
                decode_id(input.id, "Role"), input.description, policies
            )
            return RoleSuccess(role=Role.from_model(role))

        return await run_mutation(info, "role.update", body)

    @strawberry.mutation(description="Delete a custom role nobody holds (admins).")
    async def delete_role(self, info: Info, input: DeleteRoleInput) -> DeleteRoleResult:
        async def body() -> DeleteRoleSuccess:
            name = await info.context.rbac.roles.delete(decode_id(input.id, "Role"))
            return DeleteRoleSuccess(deleted_name=name)

        return await run_mutation(info, "role.delete", body)
