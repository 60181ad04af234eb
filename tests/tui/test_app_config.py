"""An app's Files and Env tabs and a project's variables, from the dashboard:
files written through the dialog (a bad mount path refused under its field),
project variables and secrets (a secret's value never on screen), an app that
picks them, and what a viewer may not do."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, SelectionList, TextArea

from home_idp.server.apps.models import AppFile, ProjectVariable
from home_idp.tui.dialogs import ChoiceDialog, FileDialog, FormDialog
from home_idp.tui.widgets.app_env import AppEnv
from home_idp.tui.widgets.app_files import AppFiles
from home_idp.tui.widgets.app_resources import AppResources
from home_idp.tui.widgets.project_tree import ProjectNode, ProjectTree
from home_idp.tui.widgets.project_view import ProjectVariables
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.tui.conftest import signed_in_dashboard, wait_for
from tests.tui.snapshots import screen_text
from tests.tui.test_releases import open_app


def notified(pilot: Pilot[None], text: str) -> bool:
    return any(text in n.message for n in pilot.app._notifications)


Cell = TypeVar("Cell")


def rows(table: DataTable[Cell]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def shows_text(label: Label) -> Callable[[], bool]:
    """A check for `wait_for`, bound to this label (not to a loop variable)."""
    return lambda: bool(str(label.content))


def fill_file(pilot: Pilot[None], name: str, mount_path: str, content: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#file-name", Input).value = name
    screen.query_one("#file-mountPath", Input).value = mount_path
    screen.query_one("#file-content", TextArea).text = content


async def open_project(pilot: Pilot[None], name: str) -> ProjectVariables:
    tree = pilot.app.screen.query_one(ProjectTree)
    await wait_for(
        pilot, lambda: any(n.data and n.data.name == name for n in tree.root.children), what=name
    )
    node, project = next(
        (n, n.data)
        for n in tree.root.children
        if isinstance(n.data, ProjectNode) and n.data.name == name
    )
    tree.focus()
    tree.move_cursor(node)
    await pilot.press("enter")
    variables = pilot.app.screen.query_one(ProjectVariables)
    await wait_for(pilot, lambda: variables.project_id == project.id, what="the project pane")
    return variables


async def test_a_file_is_written_a_bad_mount_path_refused_and_the_file_deleted(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await pilot.press("alt+4")
        files = app.screen.query_one(AppFiles)
        await wait_for(pilot, lambda: files.app_id is not None, what="the files")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FileDialog), what="the file dialog")
        fill_file(pilot, "app.yaml", "/config/app.yaml", "greeting: hello\n")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: files.table.row_count == 1, what="the file's row")
        assert rows(files.table)[0][:3] == ["app.yaml", "/config/app.yaml", "16 B"]
        assert notified(pilot, "the file is used by the next release")
        saved = await AppFile.get(app=web, name="app.yaml")
        assert (saved.mount_path, saved.content) == ("/config/app.yaml", "greeting: hello\n")

        for bad in ("../etc/x", "/proc/x"):
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, FileDialog))
            fill_file(pilot, "bad.conf", bad, "x")
            await pilot.press("ctrl+s")
            error = app.screen.query_one("#error-mountPath", Label)
            await wait_for(pilot, shows_text(error), what="the mount path error")
            assert isinstance(app.screen, FileDialog)  # still open, nothing typed is lost
            await pilot.press("escape")
            await pilot.pause()
        assert await AppFile.filter(app=web).count() == 1
        assert files.table.row_count == 1

        # Edit: the dialog opens on the file, its name fixed.
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, FileDialog))
        assert app.screen.query_one("#file-name", Input).disabled
        app.screen.query_one("#file-content", TextArea).text = "greeting: bye\n"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FileDialog), what="the save")
        await wait_for(pilot, lambda: rows(files.table)[0][2] == "14 B", what="the new size")
        assert (await AppFile.get(app=web, name="app.yaml")).content == "greeting: bye\n"

        await pilot.press("d", "y")
        await wait_for(pilot, lambda: files.table.row_count == 0, what="the file to go")
        assert not await AppFile.exists(app=web)


async def test_project_variables_a_secret_never_shown_and_an_app_that_uses_them(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    await make_app(project)
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        variables = await open_project(pilot, "shop")
        table = variables.table

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the form")
        app.screen.query_one("#field-name", Input).value = "LOG_LEVEL"
        app.screen.query_one("#field-value", Input).value = "debug"
        await pilot.click("#submit")
        await wait_for(pilot, lambda: table.row_count == 1, what="the variable's row")

        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the form")
        assert app.screen.query_one("#field-value", Input).password
        app.screen.query_one("#field-name", Input).value = "DB_PASSWORD"
        app.screen.query_one("#field-value", Input).value = secret
        assert secret not in screen_text(app)
        await pilot.click("#submit")
        await wait_for(pilot, lambda: table.row_count == 2, what="the secret's row")
        shown = rows(table)
        assert shown[0][:4] == ["DB_PASSWORD", "secret", "••••••", "—"]
        assert shown[1][:4] == ["LOG_LEVEL", "", "debug", "—"]
        assert secret not in screen_text(app)
        assert not any(secret in cell for row in shown for cell in row)
        stored = await ProjectVariable.get(name="DB_PASSWORD")
        assert stored.is_secret and secret not in stored.value  # encrypted at rest

        # The app picks both with `u` in its Env tab, which lists them from the project.
        await open_app(pilot, "shop", "web")
        await pilot.press("alt+5")
        env = app.screen.query_one(AppEnv)
        await wait_for(pilot, lambda: env.config is not None, what="the app's environment")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the choice")
        app.screen.query_one(SelectionList).select_all()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: env.table.row_count == 2, what="the app's shared variables")
        assert sorted(r[:3] for r in rows(env.table)) == [
            ["DB_PASSWORD", "project", "••••••"],
            ["LOG_LEVEL", "project", "debug"],
        ]
        assert secret not in screen_text(app)

        # Back in the project, `used by` names the app; a used variable cannot go.
        variables = await open_project(pilot, "shop")
        await wait_for(
            pilot, lambda: [r[3] for r in rows(table)] == ["web", "web"], what="used by web"
        )
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: notified(pilot, "web"), what="the refusal naming web")
        assert await ProjectVariable.filter(name="DB_PASSWORD").exists()


async def test_a_viewer_reads_files_but_changes_nothing_and_deletes_no_pod(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("guest")
    project = await factory.project("shop", guest="viewer")
    web = await make_app(project)
    await AppFile.create(
        app=web,
        name="app.yaml",
        mount_path="/config/app.yaml",
        content="a: 1\n",
        size=5,
        updated_by="dev",
    )
    app = await signed_in_dashboard(factory, server_url, config_dir, "guest")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await pilot.press("alt+4")
        files = app.screen.query_one(AppFiles)
        await wait_for(pilot, lambda: files.table.row_count == 1, what="the file")
        await wait_for(pilot, lambda: files.read_only, what="read-only files")
        for key in ("n", "e", "d"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, (FileDialog, FormDialog))
        assert notified(pilot, "Viewers cannot change config files")
        footer = screen_text(app).splitlines()[-1]
        assert "New file" not in footer and "Delete file" not in footer
        assert await AppFile.filter(app=web).count() == 1

        await pilot.press("alt+7")
        resources = app.screen.query_one(AppResources)
        await wait_for(pilot, lambda: resources.app_id is not None, what="the resources tab")
        assert not resources.may_delete_pods
        assert "Delete pod" not in screen_text(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: notified(pilot, "Only maintainers"), what="the refusal")
