"""Test data: users, projects and memberships made straight in the database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher

from home_idp.server.rbac.models import Membership, Project, Role, User, UserStatus
from home_idp.server.runtime import Runtime
from home_idp.server.settings import PasswordHashingSettings

__all__ = ["PASSWORD", "PASSWORD_HASHING", "PASSWORD_HASHING_ENV", "Factory", "Person"]

PASSWORD = "correct horse battery"

# argon2 at the least cost it allows, for every server of the tests (set in
# tests/conftest.py and in tests.serverprocess): at its default cost each
# login spends a fifth of a second of CPU, by design, and some thousand
# logins across the suite would spend minutes on nothing the tests look at.
PASSWORD_HASHING = PasswordHashingSettings(time_cost=1, memory_kib=8, parallelism=1)
PASSWORD_HASHING_ENV = {
    f"HOME_IDP_AUTH__PASSWORD_HASHING__{name.upper()}": str(value)
    for name, value in PASSWORD_HASHING.model_dump().items()
}


@cache
def _password_hash() -> str:
    return PasswordHasher(
        time_cost=PASSWORD_HASHING.time_cost,
        memory_cost=PASSWORD_HASHING.memory_kib,
        parallelism=PASSWORD_HASHING.parallelism,
    ).hash(PASSWORD)


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
