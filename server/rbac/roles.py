"""The built-in roles and their documented rights."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from home_idp.server.rbac.models import Policy, PolicyEffect, Role
from home_idp.server.rbac.policy import Rule

__all__ = ["ADMIN_ROLE", "BUILTIN_ROLES", "BuiltinRole", "ensure_builtin_roles", "replace_rules"]

ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class BuiltinRole:
    name: str
    description: str
    rules: tuple[Rule, ...]


def _allow(resource: str, *actions: str) -> tuple[Rule, ...]:
    return tuple(Rule("allow", resource, action) for action in actions)


# Project roles are granted per project through a membership. `admin` is the
# global role (User.is_admin): every action on every project, plus users,
# roles and the audit log; it is not granted through a membership.
BUILTIN_ROLES = (
    BuiltinRole(
        ADMIN_ROLE,
        "Global administrator: every action everywhere, users, roles and audit log.",
        _allow("*", "*"),
    ),
    BuiltinRole(
        "maintainer",
        "Runs a project: everything a developer can, plus members, settings, deletion "
        "and deleting pods.",
        _allow("*", "*"),
    ),
    BuiltinRole(
        "developer",
        "Builds and ships: edits apps, Dockerfiles, config files and variables, sets "
        "secrets, starts releases.",
        _allow("*", "read")
        + _allow("app", "create", "update")
        + _allow("config", "update")
        + _allow("dockerfile", "create", "update")
        + _allow("release", "create", "deploy")
        + _allow("secret", "update")
        # Their apps' own spans, sent over OTLP, join the project's traces.
        + _allow("trace", "create"),
    ),
    BuiltinRole("viewer", "Reads everything in the project; changes nothing.", _allow("*", "read")),
)


async def ensure_builtin_roles() -> None:
    """Create or refresh the built-in roles so their rights always match the code."""
    for builtin in BUILTIN_ROLES:
        role, _ = await Role.get_or_create(
            name=builtin.name,
            defaults={"description": builtin.description, "builtin": True},
        )
        current = {
            Rule(p.effect.value, p.resource, p.action, p.project_pattern)
            for p in await Policy.filter(role=role)
        }
        if current == set(builtin.rules):
            continue
        await replace_rules(role, builtin.rules)
        if not role.builtin or role.description != builtin.description:
            role.builtin = True
            role.description = builtin.description
            await role.save()


async def replace_rules(role: Role, rules: Iterable[Rule]) -> None:
    """Make `rules` the role's whole set of policies."""
    await Policy.filter(role=role).delete()
    await Policy.bulk_create(
        [
            Policy(
                role=role,
                effect=PolicyEffect(rule.effect),
                resource=rule.resource,
                action=rule.action,
                project_pattern=rule.project_pattern,
            )
            for rule in rules
        ]
    )
