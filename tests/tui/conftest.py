"""Dashboard tests: the real app served on a real port, and the Textual app under Pilot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Label

from home_idp.server.rbac.models import User
from home_idp.server.rbac.sessions import ClientInfo
from home_idp.server.settings import Settings
from home_idp.tui.app import HomeIdpApp
from home_idp.tui.session import Session
from tests.factories import PASSWORD, Factory
from tests.liveserver import live_server

__all__ = ["dashboard", "log_in", "send_keys", "signed_in_dashboard", "type_text", "wait_for"]


@pytest.fixture
async def server_url(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    # On the port the settings name, so the platform repo's hook and the
    # registry's notifications reach it during releases.
    async with live_server(app, port=settings.port) as address:
        yield f"http://{address}"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


def dashboard(server_url: str, config_dir: Path, **options: object) -> HomeIdpApp:
    return HomeIdpApp(server_url, config_dir=config_dir, retry_seconds=0.2, **options)  # type: ignore[arg-type]


async def signed_in_dashboard(
    factory: Factory, server_url: str, config_dir: Path, username: str, **options: object
) -> HomeIdpApp:
    """The dashboard of `username`, opening on their projects instead of the login screen.

    The session is a real one, started on the server as a login starts it, so its
    tokens renew, its logout revokes it and the sessions list shows it. Typing
    through the login screen costs over a second a test; tests/tui/test_login.py
    is where that screen is the subject.
    """
    user = await User.get(username=username)
    tokens = await factory.runtime.rbac.authenticator.start_session(
        user, ClientInfo("127.0.0.1", "home-idp-tests")
    )
    session = Session(
        server_url=server_url,
        username=username,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=time.time() + tokens.expires_in,
    )
    return dashboard(server_url, config_dir, session=session, **options)


async def wait_for(
    pilot: Pilot[None],
    check: Callable[[], object],
    # Generous: on a loaded 2-core machine a request the dashboard retries has
    # taken over 20 s to be answered.
    seconds: float = 60.0,
    what: str | Callable[[], str] = "",
) -> None:
    """Let the app run until `check()` is true (the UI updates from workers)."""
    try:
        async with asyncio.timeout(seconds):
            while not check():
                await pilot.pause(0.05)
    except TimeoutError:
        app = pilot.app
        notes = [n.message for n in app._notifications]
        errors = app.screen.query(".form-error, .field-error").results(Label)
        notes += [text for label in errors if (text := str(label.content))]
        described = what() if callable(what) else what
        raise AssertionError(
            f"timed out waiting for {described or check}; screen {app.screen!r}, "
            f"notifications {notes}"
        ) from None
    # Let what the change started (a new screen's mounting) finish before the test goes on.
    await pilot.pause()


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type `text` into the focused widget in one burst of key presses.

    A terminal delivers fast typing (or a paste without bracketed paste) so:
    every character is its own key event, through the bindings, in order. It
    also keeps the tests quick: `Pilot.press` waits for the app to go idle
    after each key, which costs some 50 ms a character.
    """
    await send_keys(pilot, *text)


async def send_keys(pilot: Pilot[None], *keys: str) -> None:
    """Send keys in one burst, as a terminal delivers them: each a character, or a
    key's name such as "end" or "tab"."""
    app = pilot.app
    for key in keys:
        event = (
            events.Key(_character_to_key(key), key)
            if len(key) == 1
            else events.Key(key, "\t" if key == "tab" else None)
        )
        event.set_sender(app)
        app.post_message(event)
    # The app forwards each key to the focused widget's own queue: the first
    # pause lets the app forward them all, the second lets the widget take them.
    await pilot.pause()
    await pilot.pause()


async def log_in(pilot: Pilot[None], username: str, password: str = PASSWORD) -> None:
    """Fill in the login screen and wait for the dashboard."""
    from home_idp.tui.screens.dashboard import DashboardScreen
    from home_idp.tui.screens.login import LoginScreen

    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LoginScreen), what="login screen")
    await pilot.click("#username")
    await type_text(pilot, username)
    await pilot.click("#password")
    await type_text(pilot, password)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen), what="dashboard")
