"""Deleting an app or a project from the dashboard asks first, saying what stops."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from home_idp.server.apps.models import App
from home_idp.server.rbac.models import Project
from home_idp.tui.app import HomeIdpApp
from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.widgets.project_tree import ProjectTree
from tests.factories import Factory
from tests.tui.conftest import signed_in_dashboard, wait_for


def listed(app: HomeIdpApp) -> list[str]:
    """The sidebar's rows: `project` and `project/app`."""
    tree = app.screen.query_one(ProjectTree)
    rows = []
    for branch in tree.root.children:
        project = getattr(branch.data, "name", None)
        rows.append(str(project))
        rows += [f"{project}/{getattr(leaf.data, 'name', '')}" for leaf in branch.children]
    return rows


async def highlight(pilot: Pilot[None], app: HomeIdpApp, row: str) -> None:
    await wait_for(pilot, lambda: row in listed(app), what=f"{row} in the sidebar")
    tree = app.screen.query_one(ProjectTree)
    project, _, name = row.partition("/")
    if name:
        assert tree.select_app(project, name) is not None
    else:
        (branch,) = [b for b in tree.root.children if getattr(b.data, "name", None) == project]
        tree.move_cursor(branch)
    tree.focus()
    await pilot.pause()


def question(app: HomeIdpApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmDialog), screen
    return screen.question


async def test_deleting_an_app_asks_first_and_then_removes_it(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("mia")
    project = await factory.project("shop", mia="maintainer")
    await App.create(project=project, name="web", source_repo="http://127.0.0.1:9/web.git")
    await App.create(project=project, name="api", source_repo="http://127.0.0.1:9/api.git")
    app = await signed_in_dashboard(factory, server_url, config_dir, "mia")
    async with app.run_test(size=(120, 36)) as pilot:
        await highlight(pilot, app, "shop/web")

        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        assert question(app) == (
            "Delete shop/web? Its containers stop and its manifests are removed from git."
        )
        await pilot.press("escape")  # no: nothing happens
        await pilot.pause(0.2)
        assert await App.exists(name="web")

        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        await pilot.press("y")

        await wait_for(pilot, lambda: "shop/web" not in listed(app), what="web to leave")
        assert not await App.exists(name="web")
        assert "shop/api" in listed(app)
        assert any("Deleted shop/web" in str(n.message) for n in app._notifications)


async def test_deleting_a_project_asks_to_delete_its_apps_too(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("mia")
    project = await factory.project("shop", mia="maintainer")
    await App.create(project=project, name="web", source_repo="http://127.0.0.1:9/web.git")
    await App.create(project=project, name="api", source_repo="http://127.0.0.1:9/api.git")
    app = await signed_in_dashboard(factory, server_url, config_dir, "mia")
    async with app.run_test(size=(120, 36)) as pilot:
        await highlight(pilot, app, "shop")

        await pilot.press("shift+delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        assert question(app) == (
            "Delete the project shop and its apps (web, api)? Their containers stop and "
            "their manifests are removed from git."
        )
        await pilot.click("#confirm")

        await wait_for(pilot, lambda: "shop" not in listed(app), what="shop to leave")
        assert not await Project.exists(name="shop")
        assert not await App.exists(project_id=project.id)


async def test_deleting_an_app_from_the_command_palette(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("mia")
    project = await factory.project("shop", mia="maintainer")
    await App.create(project=project, name="web", source_repo="http://127.0.0.1:9/web.git")
    app = await signed_in_dashboard(factory, server_url, config_dir, "mia")
    async with app.run_test(size=(120, 36)) as pilot:
        await highlight(pilot, app, "shop/web")
        commands = [command.title for command in app.get_system_commands(app.screen)]
        assert "Delete app" in commands and "Delete project" in commands
