"""The home-idp terminal dashboard: the Textual app.

The app owns the one `Gateway` (GraphQL client) and the remembered session;
screens do their network work in workers and hand every failure to
`HomeIdpApp.reporting`, which turns it into a notification, the offline
banner, or the login screen — never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from home_idp.tui.context import AppTarget
from home_idp.tui.errors import GatewayError, NotAuthenticated, ServerUnreachable
from home_idp.tui.key_order import takes_key_itself
from home_idp.tui.results import ME
from home_idp.tui.server_address import server_address
from home_idp.tui.session import Session, SessionStore
from home_idp.tui.terminal_keys import read_escape_digits_as_alt

if TYPE_CHECKING:
    from home_idp.tui.client import Gateway

__all__ = ["AppTarget", "HomeIdpApp"]


class HomeIdpApp(App[None]):
    """Log in, then browse projects and apps, edit Dockerfiles and watch releases live."""

    CSS_PATH = "app.tcss"
    TITLE = "home-idp"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f2", "traces", "Traces"),
        Binding("f3", "admin", "Admin"),
        Binding("ctrl+o", "logout", "Log out"),
    ]

    offline: reactive[bool] = reactive(False)
    """True while the server does not answer; the banner shows and workers retry."""

    is_admin: reactive[bool] = reactive(False, bindings=True)
    """Whether the logged-in user is an administrator (the admin key shows)."""

    def __init__(
        self,
        server_url: str | None = None,
        *,
        config_dir: Path | None = None,
        session: Session | None = None,
        open_app: AppTarget | None = None,
        retry_seconds: float = 2.0,
    ) -> None:
        super().__init__()
        read_escape_digits_as_alt()
        self.store = SessionStore(config_dir)
        self.requested_server = server_address(server_url) if server_url else None
        self.open_app = open_app
        self.retry_seconds = retry_seconds
        self.given_session = session
        self.server_url = self.requested_server or self.store.last_server()
        self._gateway: Gateway | None = None
        # Keys typed after a binding ran, until its effects have happened (key_order).
        self._held_keys: list[events.Key] | None = None

    @property
    def gateway(self) -> Gateway:
        """The client, made on first use: the login screen paints without it."""
        if self._gateway is None:
            self._gateway = self.make_gateway(self.server_url)
        return self._gateway

    def make_gateway(self, server_url: str, session: Session | None = None) -> Gateway:
        from home_idp.tui.client import Gateway

        gateway = Gateway(
            server_url,
            session,
            on_connection=self._connection_changed,
            on_session=self._session_changed,
        )
        self.server_url = gateway.server_url
        return gateway

    async def use_server(self, server_url: str) -> Gateway:
        """Point the dashboard at another server (from the login screen).

        Raises BadServerAddress if `server_url` is not a server's address.
        """
        if self._gateway is None or server_address(server_url) != self._gateway.server_url:
            if self._gateway is not None:
                await self._gateway.aclose()
            self._gateway = self.make_gateway(server_url)
        return self._gateway

    async def on_event(self, event: events.Event) -> None:
        # A key the focused widget does not take runs its binding now, before
        # the next key is passed on, and the keys after it wait until what the
        # binding set going (a focus change) has happened (key_order).
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._held_keys is not None:
                self._held_keys.append(event)
                return
            if self._binding_runs_now(event):
                self.app_focus = True
                if await self._check_bindings(
                    event.key, priority=True
                ) or await self._check_bindings(event.key):
                    self._held_keys = []
                    # Queued behind the callbacks the binding's action queued.
                    self.call_later(self._release_held_keys)
                    return
        await super().on_event(event)

    async def _release_held_keys(self) -> None:
        held, self._held_keys = self._held_keys or [], None
        for index, key in enumerate(held):
            await self.on_event(key)
            if self._held_keys is not None:
                # Another binding ran: the rest wait again, still ahead of newer keys.
                self._held_keys[:0] = held[index + 1 :]
                return

    def _binding_runs_now(self, key: events.Key) -> bool:
        focused = self.focused
        return (
            focused is not None
            # Escape first restores a maximized widget (Textual's own rule).
            and not (key.key == "escape" and self.screen.maximized is not None)
            and not takes_key_itself(focused, key)
        )

    # -- start and sessions ---------------------------------------------------

    def on_mount(self) -> None:
        # At DEBUG, gql logs whole requests: passwords, secret values and tokens.
        logging.getLogger("gql").setLevel(logging.WARNING)
        session = self.given_session or self.store.load()
        if session is not None and self.requested_server in (None, session.server_url):
            self._gateway = self.make_gateway(session.server_url, session)
            self.show_dashboard()
        else:
            self.show_login()
            # Import the client while the user types, not when they press enter,
            # and not while the first screen is painted (imports hold the GIL).
            self.set_timer(
                0.5, lambda: self.run_worker(_import_client, thread=True, exit_on_error=False)
            )

    async def on_unmount(self) -> None:
        if self._gateway is not None:
            await self._gateway.aclose()

    def _session_changed(self, session: Session | None) -> None:
        if session is None:
            self.store.clear()
        else:
            self.store.save(session)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Keys that need a logged-in user (or an admin) stay out of the footer until then.
        if action in {"traces", "logout"}:
            return self._gateway is not None and self._gateway.session is not None
        if action == "admin":
            return self.is_admin
        return True

    def show_login(self, message: str = "") -> None:
        from home_idp.tui.screens.login import LoginScreen

        self._replace_all(LoginScreen(self.server_url, message))

    def show_dashboard(self) -> None:
        from home_idp.tui.screens.dashboard import DashboardScreen

        self._replace_all(DashboardScreen(open_app=self.open_app))
        self.open_app = None

    def _replace_all(self, screen: Screen[None]) -> None:
        # The default screen stays at the bottom; everything above it goes.
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    async def action_logout(self) -> None:
        await self.gateway.logout()
        self.is_admin = False
        self.show_login("Logged out.")

    # -- errors and the connection ------------------------------------------

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Run network work; show what went wrong instead of raising it."""
        try:
            yield
        except ServerUnreachable:
            self.offline = True
        except NotAuthenticated as error:
            self.is_admin = False
            if self._gateway is not None:
                self._gateway.session = None
            self.store.clear()
            self.show_login(str(error))
        except GatewayError as error:
            self.notify(str(error), title="Not done", severity="error", timeout=8, markup=False)

    def _connection_changed(self, online: bool) -> None:
        self.offline = not online

    def watch_offline(self, offline: bool) -> None:
        if offline:
            self.wait_for_server()

    @work(exclusive=True, group="reconnect", exit_on_error=False)
    async def wait_for_server(self) -> None:
        """Ask the server every few seconds until it answers, then refresh the screen."""
        while self.offline:
            await asyncio.sleep(self.retry_seconds)
            try:
                await self.gateway.execute(ME)
            except ServerUnreachable:
                continue
            except GatewayError:
                pass
            self.offline = False
        refresh = getattr(self.screen, "reload", None)
        if callable(refresh):
            refresh()

    # -- navigation ---------------------------------------------------------

    def action_traces(self) -> None:
        from home_idp.tui.screens.traces import TracesScreen

        if self.gateway.session is not None and not isinstance(self.screen, TracesScreen):
            self.push_screen(TracesScreen())

    def action_admin(self) -> None:
        from home_idp.tui.screens.admin import AdminScreen

        if not self.is_admin:
            self.notify("Only administrators may open the admin screens.", severity="warning")
            return
        if not isinstance(self.screen, AdminScreen):
            self.push_screen(AdminScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every binding with a description is also a command palette entry."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            yield SystemCommand(
                binding.description,
                binding.tooltip or f"{binding.description} ({binding.key})",
                lambda node=active.node, action=binding.action: self.call_later(
                    self.run_action, action, node
                ),
            )


def _import_client() -> None:
    import home_idp.tui.client  # noqa: F401
