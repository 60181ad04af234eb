"""Authorisation: may this principal do this action on this project?"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from home_idp.server.errors import PermissionDenied
from home_idp.server.rbac.models import Membership, Policy
from home_idp.server.rbac.policy import Rule, evaluate
from home_idp.server.rbac.principal import Principal

__all__ = ["Authorizer"]


class Authorizer:
    """Answers permission questions for one principal, loading its roles once.

    Made per request: a list of fifty projects costs one query for the
    memberships and one for their policies, not one per project, and each
    question is evaluated once. Resolvers running side by side share one load.
    """

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._rules_by_project: dict[str, list[Rule]] | None = None
        self._loading = asyncio.Lock()
        # (resource, action, project) -> the answer under the rules loaded now.
        self._decisions: dict[tuple[str, str, str], bool] = {}
        # Counts `forget` calls, so nothing loaded before one is kept after it.
        self._generation = 0

    async def _rules(self) -> dict[str, list[Rule]]:
        if self._rules_by_project is not None:
            return self._rules_by_project
        async with self._loading:
            if self._rules_by_project is not None:
                return self._rules_by_project
            generation = self._generation
            rules = await self._load_rules()
            if generation == self._generation:
                self._rules_by_project = rules
            return rules

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
        """Drop cached rules and answers after the principal's memberships changed."""
        self._rules_by_project = None
        self._decisions.clear()
        self._generation += 1

    async def member_projects(self) -> set[str]:
        return set(await self._rules())

    async def can(self, resource: str, action: str, project: str) -> bool:
        if not self.principal.is_authenticated:
            return False
        if action != "read" and not self.principal.can_write:
            return False
        if self.principal.is_admin:
            return True
        key = (resource, action, project)
        decision = self._decisions.get(key)
        if decision is None:
            generation = self._generation
            rules = (await self._rules()).get(project)
            decision = rules is not None and evaluate(rules, resource, action, project)
            if generation == self._generation:
                self._decisions[key] = decision
        return decision

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
