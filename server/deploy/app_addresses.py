"""One stable address per local app: `http://<app>.<project>.localhost:<port>`.

The container deployer gives every release a container on a port of its
own. The server passes requests to an app's stable address (on its own port,
told apart by their Host header; `gateway.app_proxy`) to whichever release is
live at that moment, so the address stays the same across releases and
rollbacks. Most systems resolve any name under `localhost` to the loopback
address (RFC 6761), so nothing needs setting up.
"""

from __future__ import annotations

import re

from tortoise.expressions import Subquery

from home_idp.server.apps.models import App
from home_idp.server.names import DNS1123_LABEL_PATTERN as _LABEL
from home_idp.server.pipeline.models import Release
from home_idp.server.settings import Settings

__all__ = ["AppAddresses", "live_release_url"]


class AppAddresses:
    """The stable addresses of apps under `domain`, on the server's `port`."""

    def __init__(self, domain: str, port: int) -> None:
        self.domain = domain.lower().rstrip(".")
        self.port = port
        self._host = re.compile(
            rf"(?P<app>{_LABEL})\.(?P<project>{_LABEL})\.{re.escape(self.domain)}\.?(?::\d+)?"
        )

    @classmethod
    def of(cls, settings: Settings) -> AppAddresses | None:
        """The addresses, when this server runs the apps itself (the container deployer)."""
        if settings.deployer.plugin != "container" or not settings.deployer.apps_domain:
            return None
        return cls(settings.deployer.apps_domain, settings.port)

    def url(self, project: str, app: str) -> str:
        return f"http://{app}.{project}.{self.domain}:{self.port}"

    def app_of(self, host: str) -> tuple[str, str] | None:
        """(project, app) for a Host header naming an app's address; None otherwise."""
        match = self._host.fullmatch(host.lower())
        return (match["project"], match["app"]) if match else None


async def live_release_url(project: str, app: str) -> str | None:
    """Where the app's live release answers itself, or None while it has none.

    One query (the app's row as a subquery): it runs for every request the
    app's address is sent.
    """
    live_release = App.filter(name=app, project__name=project).values("live_release_id")
    live = await Release.filter(id=Subquery(live_release)).only("id", "url").first()
    return live.url if live is not None else None
