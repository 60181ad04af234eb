"""rbac-manager, identity and access: users, roles, policies, projects, memberships, API
tokens, sessions and the audit log."""

from home_idp.server.rbac.principal import ANONYMOUS, Principal
from home_idp.server.rbac.service import RbacManager, RbacSession

__all__ = ["ANONYMOUS", "Principal", "RbacManager", "RbacSession"]
