"""Test data: users, projects and memberships made straight in the database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher

from home_idp.server.rbac.models import Membership, Project, Role, User, UserStatus
from home_idp.server.runtime import Runtime

__all__ = ["PASSWORD", "Factory", "Person"]

PASSWORD = "correct horse battery"


@cache
def _password_hash() -> str:
    # Hashing once keeps argon2's deliberate cost out of every factory call.
    return PasswordHasher().hash(PASSWORD)


@dataclass
class Person:
    user: User
    token: str

    @property
    def gid(self) -> str:
        from strawberry.relay import to_base64

        return to_base64("User", self.user.id)


class Factory:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def user(
        self,
        username: str,
        *,
        status: UserStatus = UserStatus.ACTIVE,
        admin: bool = False,
    ) -> Person:
        user = await User.create(
            username=username, password_hash=_password_hash(), status=status, is_admin=admin
        )
        tokens = self.runtime.rbac.authenticator.issue_tokens(user)
        return Person(user, tokens.access_token)

    async def project(self, name: str, **members: str) -> Project:
        """A project with members given as username=role."""
        project = await Project.create(name=name, description=f"{name} project")
        for username, role in members.items():
            await Membership.create(
                user=await User.get(username=username),
                project=project,
                role=await Role.get(name=role),
            )
        return project


def project_gid(project: Project) -> str:
    from strawberry.relay import to_base64

    return to_base64("Project", project.id)
