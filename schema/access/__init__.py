"""Identity and access (server/rbac): users, roles and policies, projects and
memberships, API tokens, sessions, login, and the audit log."""

from home_idp.schema.access.auth import AuthMutation
from home_idp.schema.access.mutations import AccessMutation
from home_idp.schema.access.queries import AccessQuery
from home_idp.schema.access.subscriptions import AccessSubscription

__all__ = ["AccessMutation", "AccessQuery", "AccessSubscription", "AuthMutation"]
