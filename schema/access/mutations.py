"""Mutations of identity and access: projects and members, users, roles, API tokens
and sessions (logging in is in `auth`)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.access.types import ApiToken, Member, Project, Role, Session, User
from home_idp.schema.core.context import Info
from home_idp.schema.core.errors import ErrorTypes
from home_idp.schema.core.mutations import mutation
from home_idp.schema.core.relay import decode_id

__all__ = ["AccessMutation"]


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
    delete_apps: bool = strawberry.field(
        default=False,
        description="Tear the project's apps down first (as deleteApp does); without it a "
        "project that has apps is a Conflict naming them.",
    )


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
    deleted_apps: list[str] = strawberry.field(description="The apps torn down with it.")


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
class UserSuccess:
    user: User


@strawberry.type
class DeleteUserSuccess:
    deleted_username: str


@strawberry.input(description="Names one user.")
class UserInput:
    user_id: relay.GlobalID


@strawberry.input
class ResetPasswordInput:
    user_id: relay.GlobalID
    new_password: str


@strawberry.input
class SetUserAdminInput:
    user_id: relay.GlobalID
    admin: bool


UserResult = Annotated[UserSuccess | ErrorTypes, strawberry.union("UserResult")]
DeleteUserResult = Annotated[DeleteUserSuccess | ErrorTypes, strawberry.union("DeleteUserResult")]


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


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[str] | None = strawberry.field(
        default=None, description="read and/or write; both when omitted."
    )
    expires_in_days: int | None = strawberry.field(default=None, description="Never when omitted.")


@strawberry.input
class RevokeApiTokenInput:
    id: relay.GlobalID


@strawberry.type
class CreateApiTokenSuccess:
    api_token: ApiToken
    token: str = strawberry.field(description="The secret. Shown this once; store it now.")


@strawberry.type
class RevokeApiTokenSuccess:
    api_token: ApiToken


CreateApiTokenResult = Annotated[
    CreateApiTokenSuccess | ErrorTypes, strawberry.union("CreateApiTokenResult")
]
RevokeApiTokenResult = Annotated[
    RevokeApiTokenSuccess | ErrorTypes, strawberry.union("RevokeApiTokenResult")
]


@strawberry.input(description="Names one of your sessions.")
class RevokeSessionInput:
    id: relay.GlobalID


@strawberry.type
class RevokeSessionSuccess:
    session: Session


RevokeSessionResult = Annotated[
    RevokeSessionSuccess | ErrorTypes, strawberry.union("RevokeSessionResult")
]


def _project_id(global_id: relay.GlobalID) -> int:
    return decode_id(global_id, "Project", "projectId")


def _user_id(global_id: relay.GlobalID) -> int:
    return decode_id(global_id, "User", "userId")


@strawberry.type
class AccessMutation:
    @mutation("project.create", description="Create a project; you become its maintainer.")
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectResult:
        project = await info.context.rbac.projects.create(input.name, input.description)
        return ProjectSuccess(project=Project.from_model(project))

    @mutation("project.update", description="Change a project's description.")
    async def update_project(self, info: Info, input: UpdateProjectInput) -> UpdateProjectResult:
        project = await info.context.rbac.projects.update(
            decode_id(input.id, "Project"), input.description
        )
        return ProjectSuccess(project=Project.from_model(project))

    @mutation(
        "project.delete",
        description="Delete a project and its memberships, and with deleteApps its apps.",
    )
    async def delete_project(self, info: Info, input: DeleteProjectInput) -> DeleteProjectResult:
        name, apps = await info.context.deploy.teardown.delete_project(
            decode_id(input.id, "Project"), delete_apps=input.delete_apps
        )
        return DeleteProjectSuccess(deleted_name=name, deleted_apps=apps)

    @mutation("project.add_member", description="Add an active user to a project with a role.")
    async def add_project_member(self, info: Info, input: MemberInput) -> MemberResult:
        membership = await info.context.rbac.projects.add_member(
            _project_id(input.project_id), input.username, input.role
        )
        return MemberSuccess(member=Member.from_model(membership, info.context.loaders))

    @mutation("project.set_member_role", description="Give a member another role.")
    async def set_project_member_role(self, info: Info, input: MemberInput) -> MemberResult:
        membership = await info.context.rbac.projects.set_member_role(
            _project_id(input.project_id), input.username, input.role
        )
        return MemberSuccess(member=Member.from_model(membership, info.context.loaders))

    @mutation("project.remove_member", description="Remove a member from a project.")
    async def remove_project_member(
        self, info: Info, input: RemoveMemberInput
    ) -> RemoveMemberResult:
        name = await info.context.rbac.projects.remove_member(
            _project_id(input.project_id), input.username
        )
        return RemoveMemberSuccess(removed_username=name)

    @mutation("user.approve", description="Let a pending user in.")
    async def approve_user(self, info: Info, input: UserInput) -> UserResult:
        user = await info.context.rbac.users.approve(_user_id(input.user_id))
        return UserSuccess(user=User.from_model(user))

    @mutation("user.disable", description="Lock a user out; their tokens stop working at once.")
    async def disable_user(self, info: Info, input: UserInput) -> UserResult:
        user = await info.context.rbac.users.disable(_user_id(input.user_id))
        return UserSuccess(user=User.from_model(user))

    @mutation("user.enable", description="Let a disabled user back in.")
    async def enable_user(self, info: Info, input: UserInput) -> UserResult:
        user = await info.context.rbac.users.enable(_user_id(input.user_id))
        return UserSuccess(user=User.from_model(user))

    @mutation("user.delete", description="Delete a user, their memberships and API tokens.")
    async def delete_user(self, info: Info, input: UserInput) -> DeleteUserResult:
        name = await info.context.rbac.users.delete(_user_id(input.user_id))
        return DeleteUserSuccess(deleted_username=name)

    @mutation(
        "user.reset_password", description="Set a new password for a user; their sessions end."
    )
    async def reset_user_password(self, info: Info, input: ResetPasswordInput) -> UserResult:
        user = await info.context.rbac.users.reset_password(
            _user_id(input.user_id), input.new_password
        )
        return UserSuccess(user=User.from_model(user))

    @mutation("user.set_admin", description="Grant or take away the global admin role.")
    async def set_user_admin(self, info: Info, input: SetUserAdminInput) -> UserResult:
        user = await info.context.rbac.users.set_admin(_user_id(input.user_id), input.admin)
        return UserSuccess(user=User.from_model(user))

    @mutation("role.create", description="Define a custom role (admins).")
    async def create_role(self, info: Info, input: CreateRoleInput) -> RoleResult:
        role = await info.context.rbac.roles.create(
            input.name, input.description, [p.as_dict() for p in input.policies]
        )
        return RoleSuccess(role=Role.from_model(role))

    @mutation("role.update", description="Change a custom role (admins).")
    async def update_role(self, info: Info, input: UpdateRoleInput) -> RoleResult:
        policies = [p.as_dict() for p in input.policies] if input.policies is not None else None
        role = await info.context.rbac.roles.update(
            decode_id(input.id, "Role"), input.description, policies
        )
        return RoleSuccess(role=Role.from_model(role))

    @mutation("role.delete", description="Delete a custom role nobody holds (admins).")
    async def delete_role(self, info: Info, input: DeleteRoleInput) -> DeleteRoleResult:
        name = await info.context.rbac.roles.delete(decode_id(input.id, "Role"))
        return DeleteRoleSuccess(deleted_name=name)

    @mutation(
        "api_token.create", description="Create an API token; the answer holds its secret once."
    )
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenResult:
        created = await info.context.rbac.api_tokens.create(
            input.name, input.scopes, input.expires_in_days
        )
        return CreateApiTokenSuccess(
            api_token=ApiToken.from_model(created.api_token), token=created.secret
        )

    @mutation("api_token.revoke", description="Revoke an API token; it stops working at once.")
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput
    ) -> RevokeApiTokenResult:
        token = await info.context.rbac.api_tokens.revoke(decode_id(input.id, "ApiToken"))
        return RevokeApiTokenSuccess(api_token=ApiToken.from_model(token))

    @mutation(
        "session.revoke",
        description="End one of your sessions; its tokens stop working at once.",
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionResult:
        session = await info.context.rbac.sessions.revoke(decode_id(input.id, "Session", "id"))
        return RevokeSessionSuccess(
            session=Session.from_model(session, info.context.principal.session_id)
        )
