"""Text snapshots of the dashboard's main screens at a roomy and the smallest size.

Each test builds fixed data straight in the database (nothing that starts a
release, so nothing changes on screen while it is captured), drives the
dashboard to a screen as a user would, waits until the data is shown and
compares the screen with `snapshots/<screen>-<size>.txt`. After a deliberate
change to a screen, run with `HOME_IDP_UPDATE_SNAPSHOTS=1` and read the diff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, TabbedContent

from home_idp.server.apps.models import App, AppSecret, DockerfileVersion
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.rbac.models import UserStatus
from home_idp.tui.app import HomeIdpApp
from home_idp.tui.screens.admin import AdminScreen
from home_idp.tui.screens.login import LoginScreen
from home_idp.tui.widgets.admin_users import AdminUsers
from home_idp.tui.widgets.app_settings import AppSettings
from home_idp.tui.widgets.app_view import AppView
from home_idp.tui.widgets.dockerfile_editor import DockerfileEditor
from home_idp.tui.widgets.project_tree import AppNode, ProjectTree
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.tui.conftest import dashboard, log_in, signed_in_dashboard, wait_for
from tests.tui.snapshots import assert_snapshot

SIZES = [pytest.param((120, 36), id="120x36"), pytest.param((80, 24), id="80x24")]

SOURCE_REPO = "https://git.example.com/shop/web.git"

# Saved as version 1 of shop/web, with what hadolint says about it.
DOCKERFILE = """\
FROM python:latest
WORKDIR /app
RUN apt-get update && apt-get install -y curl
COPY . /app
EXPOSE 8080
CMD ["python", "-m", "http.server", "8080"]
"""
FINDINGS = [
    {
        "line": 1,
        "code": "DL3007",
        "level": "warning",
        "message": "Using latest is prone to errors if the image will ever update. "
        "Pin the version explicitly to a release tag",
    },
    {
        "line": 3,
        "code": "DL3008",
        "level": "warning",
        "message": "Pin versions in apt get install. Instead of `apt-get install <package>` "
        "use `apt-get install <package>=<version>`",
    },
    {
        "line": 3,
        "code": "DL3015",
        "level": "info",
        "message": "Avoid additional packages by specifying `--no-install-recommends`",
    },
    {
        "line": 3,
        "code": "DL3009",
        "level": "info",
        "message": "Delete the apt lists (/var/lib/apt/lists) after installing something",
    },
]

# (project, role of dev, apps): shop/web gets the Dockerfile and a live release.
PROJECTS = [("shop", "developer", ["web", "api", "worker"]), ("blog", "maintainer", ["site"])]


def snapshot_name(screen: str, size: tuple[int, int]) -> str:
    return f"{screen}-{size[0]}x{size[1]}"


async def make_projects(factory: Factory) -> None:
    """dev's two projects and their apps; shop/web with a Dockerfile, a live
    release, environment variables and a secret."""
    await factory.user("dev")
    for project_name, role, app_names in PROJECTS:
        project = await factory.project(project_name, dev=role)
        for name in app_names:
            await make_app(project, name)
    web = await App.get(name="web")
    web.source_repo = SOURCE_REPO
    web.env = {"LOG_LEVEL": "info", "GREETING": "hello"}
    web.health_path = "/healthz"
    version = await DockerfileVersion.create(
        app=web,
        number=1,
        content=DOCKERFILE,
        author="dev",
        message="first version",
        lint_findings=FINDINGS,
    )
    # Finished, so the release engine leaves it alone: the sidebar's mark stays.
    release = await Release.create(
        app=web,
        number=1,
        dockerfile_version=version,
        trigger="dockerfile v1",
        created_by="dev",
        status=ReleaseStatus.SUCCEEDED,
        finished_at=datetime.now(UTC),
    )
    web.live_release_id = release.id
    await web.save()
    # The listing never decrypts a secret, so any ciphertext does here.
    await AppSecret.create(app=web, name="DATABASE_PASSWORD", ciphertext="-", updated_by="dev")


def tree_apps(app: HomeIdpApp) -> list[tuple[str, list[str]]]:
    tree = app.screen.query_one(ProjectTree)
    return [
        (branch.data.name, [leaf.data.name for leaf in branch.children if leaf.data])
        for branch in tree.root.children
        if branch.data
    ]


async def show_dashboard(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, HomeIdpApp)
    expected = [(project, apps) for project, _role, apps in PROJECTS]
    await wait_for(pilot, lambda: tree_apps(app) == expected, what="the projects and apps")
    await wait_for(pilot, lambda: "dev @" in str(app.screen.sub_title), what="the user's name")


async def open_web(pilot: Pilot[None]) -> AppView:
    await show_dashboard(pilot)
    tree = pilot.app.screen.query_one(ProjectTree)
    assert isinstance(tree.select_app("shop", "web"), AppNode)
    tree.focus()
    await pilot.press("enter")
    view = pilot.app.screen.query_one(AppView)
    await wait_for(pilot, lambda: view.details is not None, what="the app's details")
    return view


@pytest.mark.parametrize("size", SIZES)
async def test_login_screen(config_dir: Path, size: tuple[int, int]) -> None:
    app = dashboard("http://127.0.0.1:8080", config_dir)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="login screen")
        server = app.screen.query_one("#server", Input)
        await wait_for(pilot, lambda: server.value == "http://127.0.0.1:8080")
        await pilot.pause()
        await assert_snapshot(pilot, snapshot_name("login", size))


@pytest.mark.parametrize("size", SIZES)
async def test_dashboard_with_projects(
    server_url: str, config_dir: Path, factory: Factory, size: tuple[int, int]
) -> None:
    await make_projects(factory)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=size) as pilot:
        await show_dashboard(pilot)
        tree = app.screen.query_one(ProjectTree)
        web = next(leaf for leaf in tree.root.children[0].children if leaf.data)
        assert str(web.label) == "● web"  # The live release's mark.
        await pilot.pause()
        await assert_snapshot(pilot, snapshot_name("dashboard", size))


@pytest.mark.parametrize("size", SIZES)
async def test_dockerfile_tab_with_lint_findings(
    server_url: str, config_dir: Path, factory: Factory, size: tuple[int, int]
) -> None:
    await make_projects(factory)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=size) as pilot:
        view = await open_web(pilot)
        editor = view.query_one(DockerfileEditor)
        panel = editor.query_one("#lint-panel", OptionList)
        await wait_for(
            pilot,
            lambda: editor.version == 1 and panel.option_count == len(FINDINGS),
            what="the Dockerfile and its findings",
        )
        assert editor.text == DOCKERFILE and not editor.is_dirty
        editor.text_area.focus()
        await pilot.pause()
        await assert_snapshot(pilot, snapshot_name("dockerfile", size))


@pytest.mark.parametrize("size", SIZES)
async def test_settings_tab(
    server_url: str, config_dir: Path, factory: Factory, size: tuple[int, int]
) -> None:
    await make_projects(factory)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=size) as pilot:
        view = await open_web(pilot)
        await pilot.click("#app-tabs #--content-tab-tab-settings")
        tabs = view.query_one(TabbedContent)
        await wait_for(pilot, lambda: tabs.active == "tab-settings", what="the Settings tab")
        settings = view.query_one(AppSettings)
        secrets = settings.query_one("#secrets", DataTable)
        await wait_for(
            pilot,
            lambda: (
                settings.query_one("#set-sourceRepo", Input).value == SOURCE_REPO
                and secrets.row_count == 1
            ),
            what="the app's settings",
        )
        await pilot.pause()
        await assert_snapshot(pilot, snapshot_name("settings", size))


@pytest.mark.parametrize("size", SIZES)
async def test_admin_users_tab(
    server_url: str, config_dir: Path, factory: Factory, size: tuple[int, int]
) -> None:
    await factory.user("admin", admin=True)
    await factory.user("dev")
    await factory.user("newcomer", status=UserStatus.PENDING)
    await factory.user("leaver", status=UserStatus.DISABLED)
    # Through the login screen: started from a session, the users table has been
    # caught with its columns at their headers' width under a loaded CI run.
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=size) as pilot:
        await log_in(pilot, "admin")
        await wait_for(pilot, lambda: app.is_admin, what="admin rights known")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, AdminScreen), what="admin screen")
        users = app.screen.query_one(AdminUsers)
        table = users.query_one("#users-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4, what="the users")
        await wait_for(pilot, lambda: table.has_focus, what="the table's focus")
        await pilot.pause()
        await assert_snapshot(pilot, snapshot_name("admin-users", size))
