"""Apps, the data home-idp keeps for them: apps, Dockerfile versions and their lint,
config files, project variables, app secrets and source credentials."""

from home_idp.server.apps.manager import AppsManager, AppsSession

__all__ = ["AppsManager", "AppsSession"]
