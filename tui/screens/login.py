"""Log in with a password or an API token, or sign up and wait for approval."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from home_idp.tui.context import Home, home_of
from home_idp.tui.errors import ActionFailed, BadServerAddress, GatewayError, ServerUnreachable
from home_idp.tui.results import SIGN_UP
from home_idp.tui.widgets.formatting import safe_text

if TYPE_CHECKING:
    from home_idp.tui.client import Gateway

__all__ = ["LoginScreen"]


class LoginScreen(Screen[None]):
    """The first screen without a remembered session."""

    BINDINGS = [Binding("ctrl+n", "sign_up", "Sign up")]
    AUTO_FOCUS = "#username"

    def __init__(self, server_url: str, message: str = "") -> None:
        super().__init__()
        self.server_url = server_url
        self.message = message

    @property
    def home(self) -> Home:
        return home_of(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static("home-idp", id="login-title")
            # Compact widgets: the whole form fits in 80x24 with room for messages.
            yield Label("Server")
            yield Input(self.server_url, id="server", compact=True)
            yield Label("Username")
            yield Input(id="username", compact=True)
            yield Label("Password")
            yield Input(password=True, id="password", compact=True)
            yield Label("…or an API token (instead of username and password)")
            yield Input(password=True, id="token", placeholder="hidp_…", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Log in", variant="primary", id="login", compact=True)
                yield Button("Sign up", id="signup", compact=True)
            message = Label(self.message, id="login-message")
            message.display = bool(self.message)
            yield message
        yield Footer()

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def say(self, text: str) -> None:
        message = self.query_one("#login-message", Label)
        message.update(safe_text(text))
        # As wide as the box so that long messages wrap; no room taken while empty.
        message.display = bool(text)

    @on(Button.Pressed, "#login")
    @on(Input.Submitted)
    def action_login(self) -> None:
        self.log_in()

    @on(Button.Pressed, "#signup")
    def action_sign_up(self) -> None:
        self.sign_up()

    async def _gateway(self) -> Gateway | None:
        """The client for the server typed in, or None (and why) if it is no address."""
        try:
            gateway = await self.home.use_server(self._value("server"))
        except BadServerAddress as error:
            self.say(str(error))
            return None
        # As it will be called: with the scheme added, the API's path taken off.
        self.query_one("#server", Input).value = gateway.server_url
        return gateway

    @work(exclusive=True, exit_on_error=False)
    async def log_in(self) -> None:
        gateway = await self._gateway()
        if gateway is None:
            return
        token = self._value("token")
        self.say("Logging in…")
        try:
            if token:
                await gateway.login_with_token(token)
            else:
                await gateway.login(
                    self._value("username"), self.query_one("#password", Input).value
                )
        except ServerUnreachable:
            self.say(f"Cannot reach {gateway.server_url}. Is the server running?")
            return
        except GatewayError as error:
            self.say(str(error))
            return
        self.home.show_dashboard()

    @work(exclusive=True, exit_on_error=False)
    async def sign_up(self) -> None:
        gateway = await self._gateway()
        if gateway is None:
            return
        username = self._value("username")
        password = self.query_one("#password", Input).value
        try:
            result = await gateway.mutate(
                SIGN_UP, input={"username": username, "password": password}
            )
        except GatewayError as error:
            self.say(str(error))
            return
        self.say(result["message"])
        await self.wait_for_approval(username, password)

    async def wait_for_approval(self, username: str, password: str) -> None:
        """Try to log in now and then; an admin's approval lets it through."""
        self.query_one("#login-title", Static).update("home-idp — waiting for approval")
        pause = self.home.retry_seconds
        while True:
            await asyncio.sleep(pause)
            # Each try costs the server a password check: ask less often as time goes by.
            pause = min(pause * 1.5, 30.0)
            try:
                await self.home.gateway.login(username, password)
            except ActionFailed as error:
                if "approval" not in error.message:
                    self.say(str(error))  # disabled, or the password changed: stop asking
                    return
                self.say(f"Waiting for approval: {error}")
                continue
            except GatewayError as error:
                self.say(str(error))
                continue
            self.home.show_dashboard()
            return
