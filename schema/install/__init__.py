"""Install (server/install): the components home-idp depends on, their state, and
installing them."""

from home_idp.schema.install.mutations import InstallMutation
from home_idp.schema.install.queries import InstallQuery
from home_idp.schema.install.subscriptions import InstallSubscription

__all__ = ["InstallMutation", "InstallQuery", "InstallSubscription"]
