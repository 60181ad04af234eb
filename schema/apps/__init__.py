"""Apps (server/apps): apps, their Dockerfile versions, files, variables, secrets,
source credentials and lint findings."""

from home_idp.schema.apps.mutations import AppMutation
from home_idp.schema.apps.queries import AppQuery

__all__ = ["AppMutation", "AppQuery"]
