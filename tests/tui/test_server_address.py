"""The server's address as people type it: the scheme added, the API's path taken off,
and an answer from something that is not home-idp said as such."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from textual.widgets import Input, Label

from home_idp.server.cli import main
from home_idp.tui.client import Gateway
from home_idp.tui.errors import BadServerAddress, RequestFailed
from home_idp.tui.results import ME
from home_idp.tui.screens.dashboard import DashboardScreen
from home_idp.tui.server_address import server_address
from tests.factories import PASSWORD, Factory
from tests.liveserver import live_server
from tests.tui.conftest import dashboard, log_in, wait_for


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        (" localhost:8080/ ", "http://localhost:8080"),
        ("https://idp.example.org", "https://idp.example.org"),
        ("http://127.0.0.1:8080/graphql", "http://127.0.0.1:8080"),
        ("https://example.org/idp/graphql/", "https://example.org/idp"),
    ],
)
def test_an_address_is_completed_as_people_mean_it(typed: str, url: str) -> None:
    assert server_address(typed) == url


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "enter the server's address"),
        ("ftp://127.0.0.1", "http:// or https://, not ftp://"),
        ("http://", "is not a server's address"),
        ("127.0.0.1:port", "is not a server's address"),
        ("http://127.0.0.1:8080/?x=1", "is not a server's address"),
    ],
)
def test_what_is_no_address_is_refused_saying_why(typed: str, said: str) -> None:
    with pytest.raises(BadServerAddress, match=said.replace("?", r"\?")):
        Gateway(typed)


async def test_the_address_without_its_scheme_or_with_the_api_path_reaches_the_server(
    server_url: str, factory: Factory
) -> None:
    await factory.user("dev")
    host_and_port = server_url.removeprefix("http://")
    for typed in (host_and_port, f"{server_url}/graphql"):
        gateway = Gateway(typed)
        session = await gateway.login("dev", PASSWORD)
        assert session.server_url == server_url
        assert (await gateway.execute(ME))["me"]["username"] == "dev"
        await gateway.aclose()


def _not_home_idp() -> Starlette:
    """A web server that is something else: a page at /graphql, nothing elsewhere."""
    return Starlette(
        routes=[
            Route("/page/graphql", lambda _: HTMLResponse("<h1>Welcome</h1>"), methods=["POST"])
        ]
    )


async def test_a_web_server_that_is_not_home_idp_is_said_to_be_none() -> None:
    async with live_server(_not_home_idp()) as address:
        for url, why in (
            (f"http://{address}", "it answered 404"),
            (f"http://{address}/page", "its answer is not GraphQL"),
        ):
            gateway = Gateway(url)
            with pytest.raises(RequestFailed) as refused:
                await gateway.login("dev", PASSWORD)
            assert str(refused.value) == (
                f"{url} does not look like a home-idp server ({why} at /graphql); check the address"
            )
            await gateway.aclose()


async def test_the_login_screen_adds_the_scheme_and_says_what_is_no_address(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    app = dashboard("http://127.0.0.1:1", config_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#server"), what="the login screen")
        server = app.screen.query_one("#server", Input)
        server.value = "ftp://127.0.0.1"
        await pilot.click("#login")
        message = app.screen.query_one("#login-message", Label)
        await wait_for(pilot, lambda: "http:// or https://" in str(message.content))

        server.value = server_url.removeprefix("http://")
        await log_in(pilot, "dev")
        assert isinstance(app.screen, DashboardScreen)
        assert app.gateway.server_url == server_url


def test_the_command_line_refuses_what_is_no_address(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["releases", "shop/web", "--server", "ftp://127.0.0.1"])
    assert exited.value.code == 2
    assert "http:// or https://, not ftp://" in capsys.readouterr().err
