"""Releases (server/deploy, server/pipeline): releases and their steps and events,
build logs, webhook deliveries, config changes, and the running app's resources
and logs."""

from home_idp.schema.releases.mutations import ReleaseMutation
from home_idp.schema.releases.queries import ReleaseQuery
from home_idp.schema.releases.subscriptions import ReleaseSubscription

__all__ = ["ReleaseMutation", "ReleaseQuery", "ReleaseSubscription"]
