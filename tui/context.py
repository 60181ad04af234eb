"""What screens may ask of the app they run in, without importing it.

`HomeIdpApp` implements `Home`; screens reach it through `home_of`, so the
app module (which imports the screens) is imported by none of them and the
dashboard's modules form no import cycle. Widgets do not reach it at all.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from home_idp.tui.client import Gateway

__all__ = ["AppTarget", "Home", "home_of"]

AppTarget = tuple[str, str]
"""(project, app): what to open once logged in."""


class Home(Protocol):
    """The dashboard app as its screens see it."""

    is_admin: bool
    """Whether the logged-in user is an administrator."""

    retry_seconds: float
    """How long to wait before asking an unreachable server again."""

    @property
    def gateway(self) -> Gateway:
        """The one GraphQL client."""
        ...

    def reporting(self) -> AbstractContextManager[None]:
        """Run network work; show what went wrong instead of raising it."""
        ...

    async def use_server(self, server_url: str) -> Gateway:
        """Point the dashboard at another server."""
        ...

    def show_dashboard(self) -> None:
        """Replace every screen with the dashboard."""
        ...


def home_of(node: DOMNode) -> Home:
    """The dashboard app a screen runs in, typed."""
    return cast("Home", node.app)
