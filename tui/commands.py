"""Commands for scripts and CI: log in, list an app's releases, read its logs, roll back.

They speak GraphQL through the dashboard's own client, never server code, to
the server named by `--server`, else `HOME_IDP_SERVER`, else the dashboard's
remembered session, as the user of `HOME_IDP_TOKEN` (an API token) or of that
session. Each prints text for people, or with `--output json` what the API
answered; the exit code says whether the command did what it was asked.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from home_idp.tui.client import Gateway
from home_idp.tui.errors import GatewayError
from home_idp.tui.results import (
    APP_LOGS,
    APP_RELEASES,
    PROJECT_APPS,
    PROJECTS,
    ROLLBACK,
    Release,
)
from home_idp.tui.session import Session, SessionStore

__all__ = [
    "AppPath",
    "CommandFailed",
    "Output",
    "log_in",
    "roll_back",
    "run",
    "show_logs",
    "show_releases",
]


class CommandFailed(Exception):
    """A command could not do what it was asked; the message is for people."""


@dataclass(frozen=True)
class AppPath:
    """`<project>/<app>`, as the commands name an app."""

    project: str
    app: str

    @classmethod
    def parse(cls, text: str) -> AppPath:
        project, slash, app = text.partition("/")
        if not slash or not project or not app or "/" in app:
            raise ValueError(f"{text!r} is not <project>/<app>")
        return cls(project, app)

    def __str__(self) -> str:
        return f"{self.project}/{self.app}"


@dataclass(frozen=True)
class Output:
    """Where and how a command prints: text for people, or JSON for scripts."""

    as_json: bool = False
    stream: TextIO = sys.stdout

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def data(self, value: object) -> None:
        self.line(json.dumps(value))


def run(
    command: Callable[[Gateway], Awaitable[int]], *, server: str | None, as_user: bool = True
) -> int:
    """Run `command` with a gateway to the chosen server (as the chosen user: `as_user`).

    A failure is one line on standard error and exit code 1.
    """
    store = SessionStore()
    remembered = store.load()
    url = server or os.environ.get("HOME_IDP_SERVER") or store.last_server()

    def remember(session: Session | None) -> None:
        # A new or renewed session is kept where the dashboard keeps its own.
        if session is None:
            store.clear()
        else:
            store.save(session)

    async def with_gateway() -> int:
        token = os.environ.get("HOME_IDP_TOKEN") if as_user else None
        if token:
            gateway = Gateway(url)  # an API token is used as it is, and never written anywhere
        else:
            same_server = remembered is not None and remembered.server_url == url.rstrip("/")
            session = remembered if as_user and same_server else None
            gateway = Gateway(url, session, on_session=remember)
        try:
            if token:
                await gateway.login_with_token(token)
            return await command(gateway)
        finally:
            await gateway.aclose()

    try:
        return asyncio.run(with_gateway())
    except (GatewayError, CommandFailed) as error:
        print(f"home-idp: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C ends `logs -f`: no traceback
        return 130


async def log_in(gateway: Gateway, username: str, password: str, output: Output) -> int:
    """Log in (`run` remembers the session where the dashboard keeps its own)."""
    session = await gateway.login(username, password)
    if output.as_json:
        output.data({"server": session.server_url, "username": session.username})
    else:
        output.line(f"logged in to {session.server_url} as {session.username}")
    return 0


async def show_releases(gateway: Gateway, path: AppPath, output: Output) -> int:
    """The app's releases, newest first."""
    releases = await _releases(gateway, await _app_id(gateway, path))
    if output.as_json:
        output.data(releases)
        return 0
    for release in releases:
        live = "  live" if release["isLive"] else ""
        output.line(
            f"#{release['number']:<4} {release['status'].lower():<10} "
            f"{release['trigger']:<24} {release['createdBy']:<16} {release['createdAt']}{live}"
        )
    return 0


async def show_logs(
    gateway: Gateway, path: AppPath, *, follow: bool, tail_lines: int, output: Output
) -> int:
    """The last lines of each of the app's running containers or pods, then (`follow`) new ones."""
    app_id = await _app_id(gateway, path)
    async for line in gateway.subscribe(
        APP_LOGS, appId=app_id, follow=follow, tailLines=tail_lines
    ):
        if output.as_json:
            output.data(line)
        else:
            output.line(f"{line['source']}: {line['text']}")
    return 0


async def roll_back(gateway: Gateway, path: AppPath, number: int, output: Output) -> int:
    """Start a new release that runs release `number`'s image again."""
    app_id = await _app_id(gateway, path)
    target = next((r for r in await _releases(gateway, app_id) if r["number"] == number), None)
    if target is None:
        raise CommandFailed(f"{path} has no release #{number} among its newest 50")
    started = (await gateway.mutate(ROLLBACK, input={"app": app_id, "release": target["id"]}))[
        "release"
    ]
    if output.as_json:
        output.data(started)
    else:
        output.line(f"release #{started['number']} of {path} rolls back to #{number}")
    return 0


async def _app_id(gateway: Gateway, path: AppPath) -> str:
    projects = (await gateway.execute(PROJECTS))["projects"]["edges"]
    project = next((e["node"] for e in projects if e["node"]["name"] == path.project), None)
    if project is None:
        raise CommandFailed(f"no project {path.project!r} that you can see")
    apps = (await gateway.execute(PROJECT_APPS, project=project["id"]))["apps"]["edges"]
    app = next((e["node"] for e in apps if e["node"]["name"] == path.app), None)
    if app is None:
        raise CommandFailed(f"project {path.project!r} has no app {path.app!r}")
    return app["id"]


async def _releases(gateway: Gateway, app_id: str) -> list[Release]:
    node = (await gateway.execute(APP_RELEASES, id=app_id))["node"]
    if node is None:
        raise CommandFailed("the app is gone")
    return [edge["node"] for edge in node["releases"]["edges"]]
