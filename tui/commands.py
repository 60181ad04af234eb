"""Commands for scripts and CI: log in, list an app's releases, read its logs, roll back,
deploy the newest commit (and follow the release to its end).

They speak GraphQL through the dashboard's own client, never server code, to
the server named by `--server`, else `HOME_IDP_SERVER`, else the dashboard's
remembered session, as the user of `HOME_IDP_TOKEN` (an API token) or of that
session. Each prints text for people, or with `--output json` what the API
answered; the exit code says whether the command did what it was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from home_idp.tui.client import Gateway
from home_idp.tui.errors import (
    ActionFailed,
    BadServerAddress,
    GatewayError,
    NotAuthenticated,
    RequestFailed,
)
from home_idp.tui.results import (
    APP_LOGS,
    APP_RELEASES,
    DEPLOY_APP,
    PROJECT_APPS,
    PROJECTS,
    RELEASE_DETAIL,
    RELEASE_EVENTS,
    ROLLBACK,
    Release,
    ReleaseDetail,
)
from home_idp.tui.server_address import server_address
from home_idp.tui.session import Session, SessionStore
from home_idp.tui.widgets.formatting import SHORT_SHA

__all__ = [
    "AppPath",
    "BadInput",
    "CommandFailed",
    "Output",
    "deploy",
    "log_in",
    "roll_back",
    "run",
    "show_logs",
    "show_releases",
]


class CommandFailed(Exception):
    """A command could not do what it was asked; the message is for people."""


class BadInput(CommandFailed):
    """What the command was given names nothing there is, or is not valid."""


# `deploy --wait` asks for the release again this often, in case an event got lost.
POLL_SECONDS = 2.0
_ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED"}
# What `deploy --wait --output json` says of the release once it ended.
_ENDED_FIELDS = ("id", "number", "status", "error", "image", "digest", "sourceCommit")


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
    command: Callable[[Gateway], Awaitable[int]],
    *,
    server: str | None,
    as_user: bool = True,
    usage_code: int = 1,
) -> int:
    """Run `command` with a gateway to the chosen server (as the chosen user: `as_user`).

    A failure is one line on standard error and exit code 1; bad input and a
    refused session exit with `usage_code` (for commands whose 1 means
    something else, as `deploy --wait`'s failed release).
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
            same_server = remembered is not None and remembered.server_url == server_address(url)
            session = remembered if as_user and same_server else None
            gateway = Gateway(url, session, on_session=remember)
        try:
            if token:
                try:
                    await gateway.login_with_token(token)
                except (RequestFailed, NotAuthenticated) as refused:
                    raise NotAuthenticated(f"HOME_IDP_TOKEN was refused: {refused}") from None
            return await command(gateway)
        finally:
            await gateway.aclose()

    try:
        return asyncio.run(with_gateway())
    except (NotAuthenticated, BadInput, BadServerAddress) as error:
        print(f"home-idp: {error}", file=sys.stderr)
        return usage_code
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
        commit = release["sourceCommit"]
        sha = commit["sha"][:SHORT_SHA] if commit else "-"
        output.line(
            f"#{release['number']:<4} {release['status'].lower():<10} "
            f"{release['trigger']:<24} {sha:<{SHORT_SHA}} "
            f"{release['createdBy']:<16} {release['createdAt']}{live}"
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


async def deploy(
    gateway: Gateway, path: AppPath, *, ref: str | None, wait: bool, output: Output
) -> int:
    """Build the newest commit of `ref` (the app's branch) and deploy it; with `wait`,
    print each step as it changes and exit 0 only when the release succeeds."""
    if gateway.session is None:
        raise NotAuthenticated("not logged in: run `home-idp login` or set HOME_IDP_TOKEN")
    app_id = await _app_id(gateway, path)
    try:
        started = (await gateway.mutate(DEPLOY_APP, input={"app": app_id, "ref": ref}))["release"]
    except ActionFailed as error:
        if error.typename == "ValidationError":
            raise BadInput(str(error)) from None
        raise
    if output.as_json:
        output.data(started)
    else:
        output.line(f"release #{started['number']} of {path} started")
    if not wait:
        return 0
    release = await _follow(gateway, started["id"], output)
    status = release["status"]
    if output.as_json:
        fields: Mapping[str, object] = release
        output.data({name: fields[name] for name in _ENDED_FIELDS})
    else:
        ended = f"release #{release['number']} {status.lower()}"
        output.line(f"{ended}: {release['error']}" if release["error"] else ended)
    return 0 if status == "SUCCEEDED" else 1


async def _follow(gateway: Gateway, release_id: str, output: Output) -> ReleaseDetail:
    """Print each step's new state until the release ends; the release as it ended.

    Release events say when to look again (rows are the truth); a look every
    `POLL_SECONDS` covers an event lost with a dropped connection.
    """
    changed = asyncio.Event()

    async def listen() -> None:
        async for _event in gateway.subscribe(RELEASE_EVENTS, releaseId=release_id):
            changed.set()

    listener = asyncio.create_task(listen())
    shown: dict[str, str] = {}
    try:
        while True:
            changed.clear()
            release = (await gateway.execute(RELEASE_DETAIL, id=release_id))["node"]
            if release is None:
                raise CommandFailed("the release is gone")
            for step in release["steps"]:
                # A step that has not begun is news only once it does.
                if shown.get(step["name"], "PENDING") == step["state"]:
                    continue
                shown[step["name"]] = step["state"]
                if output.as_json:
                    output.data(
                        {
                            "release": release["number"],
                            "step": step["name"],
                            "state": step["state"],
                            "error": step["error"],
                        }
                    )
                else:
                    line = f"#{release['number']} {step['name']:<20} {step['state'].lower()}"
                    output.line(f"{line}: {step['error']}" if step["error"] else line)
            if release["status"] in _ENDED:
                return release
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), POLL_SECONDS)
    finally:
        listener.cancel()
        # The events only hurry the polling along: whatever ended them is no failure here.
        with contextlib.suppress(asyncio.CancelledError, GatewayError):
            await listener


async def _app_id(gateway: Gateway, path: AppPath) -> str:
    projects = (await gateway.execute(PROJECTS))["projects"]["edges"]
    project = next((e["node"] for e in projects if e["node"]["name"] == path.project), None)
    if project is None:
        raise BadInput(f"no project {path.project!r} that you can see")
    apps = (await gateway.execute(PROJECT_APPS, project=project["id"]))["apps"]["edges"]
    app = next((e["node"] for e in apps if e["node"]["name"] == path.app), None)
    if app is None:
        raise BadInput(f"project {path.project!r} has no app {path.app!r}")
    return app["id"]


async def _releases(gateway: Gateway, app_id: str) -> list[Release]:
    node = (await gateway.execute(APP_RELEASES, id=app_id))["node"]
    if node is None:
        raise CommandFailed("the app is gone")
    return [edge["node"] for edge in node["releases"]["edges"]]
