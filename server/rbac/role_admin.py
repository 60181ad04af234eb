"""Custom roles: named sets of policies that administrators define."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.errors import Conflict, FieldError, NotFound, ValidationFailed
from home_idp.server.names import validate_dns_label
from home_idp.server.rbac.caller_service import CallerService
from home_idp.server.rbac.models import Membership, Role
from home_idp.server.rbac.policy import Rule, parse_rule
from home_idp.server.rbac.roles import replace_rules

__all__ = ["MAX_POLICIES", "RoleAdmin"]

MAX_POLICIES = 100


def _parse_rules(raw_rules: Sequence[Mapping[str, object]]) -> list[Rule]:
    if not raw_rules:
        raise ValidationFailed.for_field("policies", "a role needs at least one policy")
    if len(raw_rules) > MAX_POLICIES:
        raise ValidationFailed.for_field("policies", f"at most {MAX_POLICIES} policies per role")
    rules, errors = [], []
    for index, raw in enumerate(raw_rules):
        try:
            rules.append(parse_rule(raw, index))
        except ValidationFailed as error:
            errors.extend(error.field_errors)
    if errors:
        raise ValidationFailed("some policies are not valid", [*errors])
    return rules


class RoleAdmin(CallerService):
    """Any user may read roles (to pick one); only admins change them."""

    def list(self) -> QuerySet[Role]:
        self._authz.require_user()
        return Role.all()

    async def get(self, role_id: int) -> Role:
        self._authz.require_user()
        role = await Role.get_or_none(id=role_id)
        if role is None:
            raise NotFound("no such role")
        return role

    async def create(
        self, name: str, description: str, raw_rules: Sequence[Mapping[str, object]]
    ) -> Role:
        principal = self._authz.require_admin()
        self._authz.require_write()
        validate_dns_label(name)
        if len(description) > 500:
            raise ValidationFailed.for_field("description", "must be at most 500 characters")
        rules = _parse_rules(raw_rules)
        async with in_transaction():
            if await Role.exists(name=name):
                raise Conflict(f"role {name!r} already exists")
            role = await Role.create(name=name, description=description)
            await replace_rules(role, rules)
            await self._audit.record(
                principal, "role.create", f"role:{name}", detail={"policies": len(rules)}
            )
        return role

    async def update(
        self,
        role_id: int,
        description: str | None,
        raw_rules: Sequence[Mapping[str, object]] | None,
    ) -> Role:
        principal = self._authz.require_admin()
        self._authz.require_write()
        role = await self._custom_role(role_id)
        rules = _parse_rules(raw_rules) if raw_rules is not None else None
        if description is not None and len(description) > 500:
            raise ValidationFailed.for_field("description", "must be at most 500 characters")
        async with in_transaction():
            if description is not None:
                role.description = description
                await role.save(update_fields=["description"])
            if rules is not None:
                await replace_rules(role, rules)
            await self._audit.record(principal, "role.update", f"role:{role.name}")
        if rules is not None:
            # Everyone holding the role may have lost a right.
            await self._access.announce(None)
        return role

    async def delete(self, role_id: int) -> str:
        principal = self._authz.require_admin()
        self._authz.require_write()
        role = await self._custom_role(role_id)
        async with in_transaction():
            in_use = await Membership.filter(role=role).count()
            if in_use:
                raise Conflict(f"role {role.name!r} is held by {in_use} member(s)")
            await role.delete()
            await self._audit.record(principal, "role.delete", f"role:{role.name}")
        return role.name

    async def _custom_role(self, role_id: int) -> Role:
        role = await Role.get_or_none(id=role_id)
        if role is None:
            raise NotFound("no such role")
        if role.builtin:
            raise ValidationFailed(
                "built-in roles cannot be changed", [FieldError("id", "is a built-in role")]
            )
        return role
