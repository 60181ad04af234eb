"""Projects and their members."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.rbac_types import Member, Project
from home_idp.schema.relay import Connection, check_page_size, connection_from_queryset, decode_id
from home_idp.server.errors import NotFound

__all__ = ["ProjectMutation", "ProjectQuery"]


@strawberry.input
class CreateProjectInput:
    name: str = strawberry.field(description="DNS-1123 label; also the namespace.")
    description: str = ""


@strawberry.input
class UpdateProjectInput:
    id: relay.GlobalID
    description: str


@strawberry.input
class DeleteProjectInput:
    id: relay.GlobalID


@strawberry.input
class MemberInput:
    project_id: relay.GlobalID
    username: str
    role: str = strawberry.field(description="maintainer, developer, viewer or a custom role.")


@strawberry.input
class RemoveMemberInput:
    project_id: relay.GlobalID
    username: str


@strawberry.type
class ProjectSuccess:
    project: Project


@strawberry.type
class DeleteProjectSuccess:
    deleted_name: str


@strawberry.type
class MemberSuccess:
    member: Member


@strawberry.type
class RemoveMemberSuccess:
    removed_username: str


CreateProjectResult = Annotated[
    ProjectSuccess | ErrorTypes, strawberry.union("CreateProjectResult")
]
UpdateProjectResult = Annotated[
    ProjectSuccess | ErrorTypes, strawberry.union("UpdateProjectResult")
]
DeleteProjectResult = Annotated[
    DeleteProjectSuccess | ErrorTypes, strawberry.union("DeleteProjectResult")
]
MemberResult = Annotated[MemberSuccess | ErrorTypes, strawberry.union("MemberResult")]
RemoveMemberResult = Annotated[
    RemoveMemberSuccess | ErrorTypes, strawberry.union("RemoveMemberResult")
]


@strawberry.type
class ProjectQuery:
    @strawberry.field(
        description="Projects you belong to (all of them for admins), oldest first.",
        permission_classes=[IsAuthenticated],
    )
    async def projects(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Project]:
        check_page_size(first, info.context.max_page_size)
        query = await info.context.rbac.projects.visible()
        return await connection_from_queryset(query, first, after, Project.from_model)

    @strawberry.field(description="One project by name.", permission_classes=[IsAuthenticated])
    async def project(self, info: Info, name: str) -> Project | None:
        try:
            return Project.from_model(await info.context.rbac.projects.get_by_name(name))
        except NotFound:
            return None


def _project_id(global_id: relay.GlobalID) -> int:
    return decode_id(global_id, "Project", "projectId")


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(description="Create a project; you become its maintainer.")
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectResult:
        async def body() -> ProjectSuccess:
            project = await info.context.rbac.projects.create(input.name, input.description)
            return ProjectSuccess(project=Project.from_model(project))

        return await run_mutation(info, "project.create", body)

    @strawberry.mutation(description="Change a project's description.")
    async def update_project(self, info: Info, input: UpdateProjectInput) -> UpdateProjectResult:
        async def body() -> ProjectSuccess:
            project = await info.context.rbac.projects.update(
                decode_id(input.id, "Project"), input.description
            )
            return ProjectSuccess(project=Project.from_model(project))

        return await run_mutation(info, "project.update", body)

    @strawberry.mutation(description="Delete a project and its memberships.")
    async def delete_project(self, info: Info, input: DeleteProjectInput) -> DeleteProjectResult:
        async def body() -> DeleteProjectSuccess:
            name = await info.context.rbac.projects.delete(decode_id(input.id, "Project"))
            return DeleteProjectSuccess(deleted_name=name)

        return await run_mutation(info, "project.delete", body)

    @strawberry.mutation(description="Add an active user to a project with a role.")
    async def add_project_member(self, info: Info, input: MemberInput) -> MemberResult:
        async def body() -> MemberSuccess:
            membership = await info.context.rbac.projects.add_member(
                _project_id(input.project_id), input.username, input.role
            )
            return MemberSuccess(member=Member.from_model(membership, info.context.loaders))

        return await run_mutation(info, "project.add_member", body)

    @strawberry.mutation(description="Give a member another role.")
    async def set_project_member_role(self, info: Info, input: MemberInput) -> MemberResult:
        async def body() -> MemberSuccess:
            membership = await info.context.rbac.projects.set_member_role(
                _project_id(input.project_id), input.username, input.role
            )
            return MemberSuccess(member=Member.from_model(membership, info.context.loaders))

        return await run_mutation(info, "project.set_member_role", body)

    @strawberry.mutation(description="Remove a member from a project.")
    async def remove_project_member(
        self,
        info: Info,
        input: RemoveMemberInput,
    ) -> RemoveMemberResult:
        async def body() -> RemoveMemberSuccess:
            name = await info.context.rbac.projects.remove_member(
                _project_id(input.project_id), input.username
            )
            return RemoveMemberSuccess(removed_username=name)

        return await run_mutation(info, "project.remove_member", body)
