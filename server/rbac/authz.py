"""Authorisation: may this principal do this action on this project?"""

from __future__ import annotations

from collections import defaultdict

from home_idp.server.errors import PermissionDenied
from home_idp.server.rbac.models import Membership, Policy
from home_idp.server.rbac.policy import Rule, evaluate
from home_idp.server.rbac.principal import Principal

__all__ = ["Authorizer"]


class Authorizer:
    """Answers permission questions for one principal, loading its roles once.

    Made per request: a list of fifty projects costs one query for the
    memberships and one for their policies, not one per project.
    """

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._rules_by_project: dict[str, list[Rule]] | None = None

    async def _rules(self) -> dict[str, list[Rule]]:
        if self._rules_by_project is None:
            self._rules_by_project = await self._load_rules()
        return self._rules_by_project

    async def _load_rules(self) -> dict[str, list[Rule]]:
        if self.principal.user_id is None:
            return {}
        memberships = await Membership.filter(user_id=self.principal.user_id).values_list(
            "project__name", "role_id"
        )
        role_ids = {role_id for _, role_id in memberships}
        rules_by_role: dict[int, list[Rule]] = defaultdict(list)
        for role_id, effect, resource, action, pattern in await Policy.filter(
            role_id__in=role_ids
        ).values_list("role_id", "effect", "resource", "action", "project_pattern"):
            rules_by_role[role_id].append(Rule(str(effect), resource, action, pattern))
        return {project: rules_by_role[role_id] for project, role_id in memberships}

    def forget(self) -> None:
        """Drop cached rules after the principal's memberships changed."""
        self._rules_by_project = None

    async def member_projects(self) -> set[str]:
        return set(await self._rules())

    async def can(self, resource: str, action: str, project: str) -> bool:
        if not self.principal.is_authenticated:
            return False
        if action != "read" and not self.principal.can_write:
            return False
        if self.principal.is_admin:
            return True
        rules = (await self._rules()).get(project)
        return rules is not None and evaluate(rules, resource, action, project)

    async def require(self, resource: str, action: str, project: str) -> None:
        if not await self.can(resource, action, project):
            raise PermissionDenied(f"you may not {action} {resource} in project {project!r}")

    def require_user(self) -> Principal:
        """An approved, logged-in user (pending and disabled ones never get this far)."""
        if not self.principal.is_authenticated:
            raise PermissionDenied("log in first")
        return self.principal

    def require_write(self) -> Principal:
        principal = self.require_user()
        if not principal.can_write:
            raise PermissionDenied("this API token is read-only")
        return principal

    def require_admin(self) -> Principal:
        principal = self.require_user()
        if not principal.is_admin:
            raise PermissionDenied("only administrators may do this")
        return principal
