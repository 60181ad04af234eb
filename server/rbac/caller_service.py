"""What every rbac service bound to one caller is given."""

from __future__ import annotations

from home_idp.server.rbac.access_changes import AccessChanges
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer

__all__ = ["CallerService"]


class CallerService:
    """A service acting for one caller.

    It checks the caller's rights, records what they do in the audit log and,
    once a change has committed, announces whose rights it may have changed.
    """

    def __init__(self, authz: Authorizer, audit: AuditLog, access: AccessChanges) -> None:
        self._authz = authz
        self._audit = audit
        self._access = access
