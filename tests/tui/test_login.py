"""Logging in, signing up, remembered sessions and a server that goes away."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
from starlette.applications import Starlette
from textual.pilot import Pilot
from textual.widgets import Label

from home_idp.server.rbac.models import User, UserStatus
from home_idp.server.settings import Settings
from home_idp.tui.client import Gateway
from home_idp.tui.screens.dashboard import DashboardScreen
from home_idp.tui.screens.login import LoginScreen
from home_idp.tui.session import SessionStore
from home_idp.tui.widgets.offline_banner import OfflineBanner
from home_idp.tui.widgets.project_tree import ProjectTree
from tests.factories import PASSWORD, Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server
from tests.tui.conftest import dashboard, log_in, signed_in_dashboard, type_text, wait_for
from tests.tui.snapshots import screen_text


def _message(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return str(screen.query_one("#login-message", Label).content)


async def test_log_in_opens_the_dashboard_and_remembers_the_session_privately(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice")
    await factory.project("shop", alice="developer")
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await log_in(pilot, "alice")
        tree = app.screen.query_one(ProjectTree)
        await wait_for(pilot, lambda: "shop" in [n.data.name for n in tree.root.children if n.data])
        assert "alice" in str(app.screen.sub_title)
    session_file = SessionStore(config_dir).path
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_file.parent.stat().st_mode) == 0o700
    assert PASSWORD not in session_file.read_text()

    # A second start goes straight to the dashboard.
    again = dashboard(server_url, config_dir)
    async with again.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, DashboardScreen))
        await wait_for(pilot, lambda: "alice" in str(again.screen.sub_title))


async def test_a_wrong_password_says_so_and_remembers_nothing(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice")
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await log_in_expecting_failure(pilot, "alice", "not the password")
        await wait_for(
            pilot, lambda: "wrong username or password" in _message(app), what="error message"
        )
        assert isinstance(app.screen, LoginScreen)
    assert SessionStore(config_dir).load() is None


async def log_in_expecting_failure(pilot: Pilot[None], username: str, password: str) -> None:
    await pilot.click("#username")
    await type_text(pilot, username)
    await pilot.click("#password")
    await type_text(pilot, password)
    await pilot.press("enter")


async def test_sign_up_waits_for_approval_then_enters(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
        await pilot.click("#username")
        await type_text(pilot, "newcomer")
        await pilot.click("#password")
        await type_text(pilot, PASSWORD)
        await pilot.click("#signup")
        await wait_for(pilot, lambda: "approval" in _message(app).lower(), what="waiting message")
        assert (await User.get(username="newcomer")).status is UserStatus.PENDING
        assert isinstance(app.screen, LoginScreen)

        await User.filter(username="newcomer").update(status=UserStatus.ACTIVE)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")


async def test_an_expired_access_token_is_renewed_with_the_refresh_token(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice")
    gateway = Gateway(server_url)
    session = await gateway.login("alice", PASSWORD)
    await gateway.aclose()
    # The access token is garbage and "expired"; only the refresh token works.
    SessionStore(config_dir).save(
        session.renewed("not-a-token", session.refresh_token, expires_in=-60)
    )
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "alice" in str(app.screen.sub_title), what="the user's name")
    renewed = SessionStore(config_dir).load()
    assert renewed is not None
    assert renewed.access_token not in ("not-a-token", session.access_token)
    assert renewed.refresh_token != session.refresh_token  # rotated


async def test_a_session_that_cannot_be_renewed_goes_back_to_login(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice")
    gateway = Gateway(server_url)
    session = await gateway.login("alice", PASSWORD)
    await gateway.aclose()
    SessionStore(config_dir).save(session.renewed("bad", "also-bad", expires_in=-60))
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="login screen")
    assert SessionStore(config_dir).load() is None


async def test_an_api_token_logs_in_too(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    alice = await factory.user("alice")
    create = (
        'mutation { createApiToken(input: {name: "tui", scopes: ["read"]}) '
        "{ ... on CreateApiTokenSuccess { token } } }"
    )
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{server_url}/graphql",
            json={"query": create},
            headers={"Authorization": f"Bearer {alice.token}"},
        )
    secret = answer.json()["data"]["createApiToken"]["token"]
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
        await pilot.click("#token")
        await type_text(pilot, secret)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "alice" in str(app.screen.sub_title), what="the user's name")


async def test_the_banner_shows_while_the_server_is_away_and_the_dashboard_recovers(
    app: Starlette, settings: Settings, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice")
    tui = dashboard(f"http://127.0.0.1:{settings.port}", config_dir)
    async with tui.run_test(size=(120, 36)) as pilot:
        async with live_server(app, port=settings.port):
            await log_in(pilot, "alice")
            banner = tui.screen.query_one(OfflineBanner)
            assert not banner.display
        # The server is gone: the next request fails and the banner shows.
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: banner.display, what="the offline banner")
        assert isinstance(tui.screen, DashboardScreen)  # no crash, no login screen

        # Something changes while away; the dashboard shows it once the server is back.
        await factory.project("shop", alice="developer")
        async with live_server(app, port=settings.port):
            await wait_for(pilot, lambda: not banner.display, what="the banner to go")
            tree = tui.screen.query_one(ProjectTree)
            await wait_for(
                pilot,
                lambda: "shop" in [n.data.name for n in tree.root.children if n.data],
                what="the project that came meanwhile",
            )


def _shown_in(app: object, selector: str) -> str:
    """The words the user sees inside the widget `selector`, as one line."""
    screen = app.screen  # type: ignore[attr-defined]
    region = screen.query_one(selector).region
    lines = screen_text(app).splitlines()[region.y : region.bottom]  # type: ignore[arg-type]
    return " ".join(" ".join(line[region.x : region.right] for line in lines).split())


async def test_the_login_screen_shows_a_long_message_whole_and_once_at_80_columns(
    server_url: str, config_dir: Path
) -> None:
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
        await pilot.click("#username")
        await type_text(pilot, "newcomer")
        await pilot.click("#password")
        await type_text(pilot, "short")
        await pilot.click("#signup")
        said = "password: must be at least 10 characters"
        await wait_for(pilot, lambda: said in _message(app), what="the password's error")
        await pilot.pause()
        assert _shown_in(app, "#login-message") == said

        await pilot.click("#password")
        await type_text(pilot, "long enough now")
        await pilot.click("#signup")
        await wait_for(pilot, lambda: "approval" in _message(app), what="the waiting message")
        await pilot.pause()
        assert _shown_in(app, "#login-message") == _message(app)


async def test_a_user_whose_rights_change_is_sent_back_to_log_in_again(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient
) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    await factory.project("shop", alice="developer")
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=(120, 36)) as pilot:
        tree = app.screen.query_one(ProjectTree)
        await wait_for(pilot, lambda: "shop" in [n.data.name for n in tree.root.children if n.data])

        # Granting admin ends the user's sessions (their tokens restart cleanly).
        granted = await gql(
            "mutation($u: ID!) { setUserAdmin(input: {userId: $u, admin: true}) { __typename } }",
            {"u": alice.gid},
            token=admin.token,
        )
        assert granted.data == {"setUserAdmin": {"__typename": "UserSuccess"}}
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login screen")
        assert "log in again" in _message(app)
        await log_in(pilot, "alice")
        assert app.is_admin
