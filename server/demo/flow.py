"""The demo: start what local mode needs, make an admin, a project and an app, release it.

Everything goes through the real server on its real port: the release is
started with the same GraphQL mutation a user sends, and followed the same
way, so the demo is the product, not a shortcut around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

from home_idp.plugins.builder.buildah import BuildahBuilder
from home_idp.plugins.installer.local import registry_answers
from home_idp.server.app import create_app
from home_idp.server.demo.assets import DemoError, GitDaemon, build_base_image, make_source_repo
from home_idp.server.events import EventBus
from home_idp.server.install.local_registry import LocalRegistryOutcome
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.auth import TokenPair
from home_idp.server.rbac.models import User
from home_idp.server.rbac.users import create_admin
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings

__all__ = ["DEMO_ADMIN", "DemoSession", "run_demo"]

DEMO_ADMIN = "demo"
PROJECT, APP = "demo", "hello"
BASE_TAG = "library/busybox:demo"
_POLL_SECONDS = 0.2
_RELEASE_SECONDS = 900

Print = Callable[[str], None]


@dataclass(frozen=True)
class DemoSession:
    """What a dashboard needs to open on the demo app as its admin."""

    server_url: str
    username: str
    access_token: str
    refresh_token: str
    expires_in: int
    project: str
    app: str


Dashboard = Callable[[DemoSession], Awaitable[None]]

_CREATE_PROJECT = """mutation($name: String!) {
  createProject(input: {name: $name, description: "made by home-idp demo"}) { __typename } }"""
_PROJECT = """query($name: String!) { project(name: $name) { id } }"""
_APPS = """query($project: ID!) {
  apps(project: $project, first: 50) { edges { node { id name } } } }"""
# The demo's app is watched 5 s after its rollout, not the server's minute: long
# enough to show the step, short enough to wait for.
_CREATE_APP = """mutation($project: ID!, $source: String!) { createApp(input: {project: $project,
  name: "hello", sourceRepo: $source, port: 8080, healthPath: "/health", stabilitySeconds: 5}) {
  __typename ... on AppSuccess { app { id } } ... on Error { message } } }"""
_UPDATE_APP = """mutation($id: ID!, $source: String!) { updateApp(input: {id: $id,
  sourceRepo: $source, stabilitySeconds: 5}) { __typename ... on Error { message } } }"""
_SAVE = """mutation($app: ID!, $content: String!) { saveDockerfile(input: {app: $app,
  content: $content, message: "home-idp demo"}) {
  __typename ... on SaveDockerfileSuccess { release { id number } } ... on Error { message } } }"""
_RELEASE = """query($id: ID!) { node(id: $id) { ... on Release { status error instanceUrl
  steps { name state durationMs error } } } }"""


class _Api:
    def __init__(self, base_url: str, token: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=30,
            trust_env=False,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self._client.post(
            "/graphql", json={"query": query, "variables": variables}
        )
        body = response.json()
        if body.get("errors"):
            raise DemoError(f"GraphQL: {body['errors'][0]['message']}")
        data: dict[str, Any] = body["data"]
        return data

    async def aclose(self) -> None:
        await self._client.aclose()


async def _admin_tokens(runtime: Runtime, say: Print) -> TokenPair:
    user = await User.get_or_none(username=DEMO_ADMIN)
    if user is None:
        password = secrets.token_urlsafe(18)
        user = await create_admin(DEMO_ADMIN, password, runtime.rbac.hashing, AuditLog(EventBus()))
        say(f"  admin      {DEMO_ADMIN} / {password}   (shown once: keep it)")
    else:
        say(f"  admin      {DEMO_ADMIN} (made by an earlier demo)")
    return runtime.rbac.authenticator.issue_tokens(user)


async def _app_id(api: _Api, source: str) -> str:
    await api(_CREATE_PROJECT, name=PROJECT)  # a Conflict the second time is fine
    project = (await api(_PROJECT, name=PROJECT))["project"]
    for edge in (await api(_APPS, project=project["id"]))["apps"]["edges"]:
        if edge["node"]["name"] == APP:
            # The git daemon has a new port each run.
            await api(_UPDATE_APP, id=edge["node"]["id"], source=source)
            app_id: str = edge["node"]["id"]
            return app_id
    created = (await api(_CREATE_APP, project=project["id"], source=source))["createApp"]
    if created["__typename"] != "AppSuccess":
        raise DemoError(f"could not create the app: {created.get('message')}")
    new_id: str = created["app"]["id"]
    return new_id


async def _follow(api: _Api, release_id: str, say: Print) -> dict[str, Any]:
    """Print each step as it ends; the release's last state."""
    reported: set[str] = set()
    deadline = time.monotonic() + _RELEASE_SECONDS
    while True:
        node: dict[str, Any] = (await api(_RELEASE, id=release_id))["node"]
        for step in node["steps"]:
            if step["state"] in ("SUCCEEDED", "FAILED") and step["name"] not in reported:
                reported.add(step["name"])
                seconds = (step["durationMs"] or 0) / 1000
                mark = "ok" if step["state"] == "SUCCEEDED" else "FAILED"
                say(f"    {step['name']:<22}{seconds:>7.2f}s  {mark}")
        if node["status"] != "RUNNING" or time.monotonic() > deadline:
            return node
        await asyncio.sleep(_POLL_SECONDS)


async def run_demo(
    settings: Settings, *, headless: bool, say: Print = print, dashboard: Dashboard | None = None
) -> int:
    """The demo; 0 when the release succeeded (its URL is the last line printed).

    With a `dashboard` (a terminal is attached), the release is watched there
    instead of printed, and the demo ends when the dashboard is closed.
    """
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    if not isinstance(runtime.deploy.builder, BuildahBuilder):
        raise DemoError("the demo builds with buildah: leave HOME_IDP_BUILDER__PLUGIN unset")
    registry_url = urlsplit(settings.registry.url)
    git = GitDaemon(settings.data_dir / "demo")
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    say("home-idp demo")
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise DemoError(f"the server did not start on {settings.base_url}")
            await asyncio.sleep(0.05)
        say(f"  server     {settings.base_url}  (GraphiQL at /graphql)")
        # The server's start ran the local registry, as a bare `serve` does.
        found: LocalRegistryOutcome | None = app.state.local_registry
        if found is None:
            if not await registry_answers(settings.registry.url):
                raise DemoError(f"no registry answers at {settings.registry.url}")
            say(f"  registry   {settings.registry.url}")
        elif not found.answers:
            raise DemoError(f"the local registry did not start: {found.error}")
        else:
            say(f"  registry   {found.url} ({'started' if found.started else 'already running'})")
        await make_source_repo(git.root)
        await git.start()
        base = f"{registry_url.netloc}/{BASE_TAG}"
        if await runtime.deploy.registry.tag_digest("library/busybox", "demo") is None:
            say("  base image building busybox FROM scratch …")
            await build_base_image(
                base, runtime.deploy.builder.buildah_args(), settings.data_dir / "demo" / "base"
            )
        say(f"  base image {base}")
        tokens = await _admin_tokens(runtime, say)
        api = _Api(settings.base_url, tokens.access_token)
        try:
            app_id = await _app_id(api, git.url("hello.git"))
            dockerfile = (
                f"FROM {base}\nCOPY . /www\nEXPOSE 8080\n"
                'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
            )
            saved = (await api(_SAVE, app=app_id, content=dockerfile))["saveDockerfile"]
            if saved["__typename"] != "SaveDockerfileSuccess":
                raise DemoError(f"could not save the Dockerfile: {saved.get('message')}")
            started = time.monotonic()
            say(f"  release #{saved['release']['number']} of {PROJECT}/{APP}")
            if dashboard is not None:
                await dashboard(
                    DemoSession(
                        settings.base_url,
                        DEMO_ADMIN,
                        tokens.access_token,
                        tokens.refresh_token,
                        tokens.expires_in,
                        PROJECT,
                        APP,
                    )
                )
                return 0
            node = await _follow(api, saved["release"]["id"], say)
        finally:
            await api.aclose()
        if node["status"] != "SUCCEEDED":
            say(f"  the release {node['status'].lower()}: {node['error']}")
            return 1
        say(f"  succeeded in {time.monotonic() - started:.1f}s; the app answers at:")
        # Its container's own address, which outlives the demo's server (the
        # app's stable address is the server's to answer).
        say(str(node["instanceUrl"]))
        if not headless:
            say("(home-idp keeps serving; Ctrl-C stops it, the app keeps running)")
            await serving
        return 0
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        # The server's shutdown stopped the registry it started.
        await git.stop()
