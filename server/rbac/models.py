"""rbac-manager data: users, tokens, roles, policies, projects, members, audit."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from home_idp.server.model_fields import owned_by

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuthThrottle",
    "Membership",
    "Policy",
    "PolicyEffect",
    "Project",
    "Role",
    "User",
    "UserSession",
    "UserStatus",
]


class UserStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class PolicyEffect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=40, unique=True)
    password_hash = fields.CharField(max_length=255)
    status = fields.CharEnumField(UserStatus, max_length=16, default=UserStatus.PENDING)
    is_admin = fields.BooleanField(default=False)
    # Part of every JWT: bumping it invalidates all tokens issued before.
    token_version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rbac_user"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = owned_by("home_idp.User", "api_tokens")
    name = fields.CharField(max_length=64)
    # Only the SHA-256 of the secret is kept; the prefix helps users tell tokens apart.
    token_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16)
    scopes: list[str] = fields.JSONField(default=list)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int

    class Meta:
        table = "rbac_api_token"
        unique_together = (("user", "name"),)


class UserSession(Model):
    """One login on one client: a family of refresh tokens, each replacing the last.

    Only the refresh token of the current generation is accepted; an older one
    coming back means a copy leaked, so the whole family is revoked.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = owned_by("home_idp.User", "sessions")
    generation = fields.IntField(default=1)
    client_address = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField()
    # When the current refresh token expires; the session ends with it.
    expires_at = fields.DatetimeField(db_index=True)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.CharField(max_length=32, default="")

    user_id: int

    class Meta:
        table = "rbac_user_session"


class AuthThrottle(Model):
    """Recent failed logins (or sign-ups) of one key: a username or a client address.

    Kept in the database so that every replica counts the same attempts.
    """

    id = fields.IntField(primary_key=True)
    # "<kind>:<sha256 of the username or address>": no typed-in text is kept.
    key = fields.CharField(max_length=100, unique=True)
    attempts = fields.IntField(default=0)
    last_attempt_at = fields.DatetimeField()
    blocked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "rbac_auth_throttle"


class Role(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=63, unique=True)
    description = fields.CharField(max_length=500, default="")
    builtin = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    policies: fields.ReverseRelation[Policy]

    class Meta:
        table = "rbac_role"


class Policy(Model):
    id = fields.IntField(primary_key=True)
    role: fields.ForeignKeyRelation[Role] = owned_by("home_idp.Role", "policies")
    effect = fields.CharEnumField(PolicyEffect, max_length=8)
    resource = fields.CharField(max_length=32)
    action = fields.CharField(max_length=32)
    project_pattern = fields.CharField(max_length=63, default="*")

    role_id: int

    class Meta:
        table = "rbac_policy"


class Project(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=63, unique=True)
    description = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rbac_project"


class Membership(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = owned_by("home_idp.User", "memberships")
    project: fields.ForeignKeyRelation[Project] = owned_by("home_idp.Project", "memberships")
    role: fields.ForeignKeyRelation[Role] = fields.ForeignKeyField(
        "home_idp.Role", related_name="memberships", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int
    project_id: int
    role_id: int

    class Meta:
        table = "rbac_membership"
        unique_together = (("user", "project"),)


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    # Kept as text, not a foreign key, so the record outlives a deleted user.
    actor = fields.CharField(max_length=64, db_index=True)
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=200, db_index=True)
    project = fields.CharField(max_length=63, null=True, db_index=True)
    outcome = fields.CharField(max_length=16, default="ok")
    detail: dict[str, object] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "rbac_audit_event"
