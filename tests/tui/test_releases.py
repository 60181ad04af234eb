"""From the dashboard: create a project and an app, save a Dockerfile, watch its
release reach its end on screen, cancel and retry, roll back."""

from __future__ import annotations

import uuid
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Label, TextArea

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.rbac.models import Project
from home_idp.tui.app import HomeIdpApp
from home_idp.tui.screens.dashboard import DashboardScreen
from home_idp.tui.screens.release import ReleaseScreen
from home_idp.tui.widgets.app_view import AppView
from home_idp.tui.widgets.build_log import BuildLogView
from home_idp.tui.widgets.project_tree import ProjectTree
from home_idp.tui.widgets.releases_table import ReleasesTable
from home_idp.tui.widgets.steps_view import StepsView
from tests.components import BASE_IMAGE, SOURCE_REPO
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.tui.conftest import signed_in_dashboard, type_text, wait_for
from tests.tui.snapshots import screen_text

END_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}


async def fill(pilot: Pilot[None], selector: str, text: str) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.query(selector), what=selector)
    field = pilot.app.screen.query_one(selector, Input)
    field.value = ""
    await pilot.click(selector)
    await type_text(pilot, text)


async def open_app(pilot: Pilot[None], project: str, app: str) -> AppView:
    tree = pilot.app.screen.query_one(ProjectTree)
    await wait_for(pilot, lambda: tree.select_app(project, app) is not None, what="the app")
    tree.focus()
    await pilot.press("enter")
    view = pilot.app.screen.query_one(AppView)
    await wait_for(pilot, lambda: view.details is not None, seconds=60, what="the app's details")
    return view


async def type_dockerfile_and_save(pilot: Pilot[None], content: str, message: str) -> None:
    editor = pilot.app.screen.query_one("#editor TextArea", TextArea)
    editor.focus()
    await pilot.press("f7", "delete")  # select all, then clear
    for line in content.splitlines():
        await type_text(pilot, line)
        await pilot.press("enter")
    assert "modified, not saved" in screen_text(pilot.app)
    await pilot.press("ctrl+s")
    await pilot.pause()
    await type_text(pilot, message)
    await pilot.press("enter")


def release_screen(app: HomeIdpApp) -> ReleaseScreen | None:
    return app.screen if isinstance(app.screen, ReleaseScreen) else None


def shown_states(app: HomeIdpApp) -> dict[str, str]:
    screen = release_screen(app)
    # Empty while the screen is still mounting its widgets.
    steps = screen.query(StepsView) if screen else None
    return steps.first().states() if steps else {}


async def test_create_a_project_and_an_app_then_release_a_dockerfile_and_watch_it_end(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await fill(pilot, "#field-name", "shop")
        await pilot.press("enter")
        tree = app.screen.query_one(ProjectTree)
        await wait_for(pilot, lambda: tree.current_project is not None or tree.root.children)
        await wait_for(
            pilot, lambda: any(n.data and n.data.name == "shop" for n in tree.root.children)
        )
        assert await Project.exists(name="shop")

        tree.focus()
        tree.move_cursor(next(n for n in tree.root.children if n.data and n.data.name == "shop"))
        await pilot.press("a")
        await fill(pilot, "#field-name", "web")
        await fill(pilot, "#field-sourceRepo", SOURCE_REPO)
        await pilot.click("#submit")
        await wait_for(pilot, lambda: tree.select_app("shop", "web") is not None, what="new app")

        await open_app(pilot, "shop", "web")
        marker = uuid.uuid4().hex[:8]
        dockerfile = (
            f"FROM {BASE_IMAGE}\nRUN echo building {marker}\nCOPY index.html /app/index.html\n"
            "COPY run /app/run\nCMD /app/run\n"
        )
        await type_dockerfile_and_save(pilot, dockerfile, "first release")

        # Saving opens the new release, whose steps move on screen until the end.
        await wait_for(pilot, lambda: release_screen(app) is not None, what="release screen")
        await wait_for(
            pilot,
            lambda: shown_states(app) and set(shown_states(app).values()) <= END_STATES,
            seconds=120,
            what="every step to end",
        )
        assert set(shown_states(app).values()) == {"SUCCEEDED"}, shown_states(app)
        log = app.screen.query_one(BuildLogView).log_widget
        await wait_for(pilot, lambda: any(f"building {marker}" in line for line in log.lines))

        web = await App.get(name="web")
        version = await DockerfileVersion.get(app=web, number=1)
        assert version.content == dockerfile and version.message == "first release"
        release = await Release.get(app=web, number=1)
        assert release.status is ReleaseStatus.SUCCEEDED

        # Back on the app, the releases table shows it as the live one.
        await pilot.press("escape")
        table = app.screen.query_one(ReleasesTable)
        await wait_for(pilot, lambda: table.releases and table.releases[0]["isLive"])


async def test_cancel_then_retry_from_the_release_screen(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    await make_app(project)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        slow = f"FROM {BASE_IMAGE}\nRUN echo sleeping {uuid.uuid4().hex[:6]} && sleep 60\n"
        await type_dockerfile_and_save(pilot, slow, "slow build")
        await wait_for(
            pilot,
            lambda: shown_states(app).get("build") == "RUNNING",
            seconds=60,
            what=lambda: f"the build to run; shown {shown_states(app)}",
        )

        await pilot.press("c")
        await wait_for(pilot, lambda: "Keep it running" in screen_text(app), what="the question")
        assert "Stop the release" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: shown_states(app).get("build") == "CANCELLED", seconds=30)
        release = await Release.get(number=1)
        assert release.status is ReleaseStatus.CANCELLED

        await pilot.press("t")
        await wait_for(
            pilot,
            lambda: shown_states(app).get("build") == "RUNNING",
            seconds=60,
            what=lambda: f"the retried build to run; shown {shown_states(app)}",
        )
        assert (await Release.get(number=1)).status is ReleaseStatus.RUNNING
        # The commit step is not done again.
        assert shown_states(app)["commit"] == "SUCCEEDED"

        await pilot.press("c", "y")
        await wait_for(pilot, lambda: shown_states(app).get("build") == "CANCELLED", seconds=30)


async def test_roll_back_to_an_earlier_release(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    await make_app(project)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        for n in (1, 2):
            await type_dockerfile_and_save(
                pilot,
                f"FROM {BASE_IMAGE}\nRUN echo v{n} {uuid.uuid4().hex[:6]}\n"
                "COPY index.html /app/index.html\nCOPY run /app/run\nCMD /app/run\n",
                f"version {n}",
            )
            await wait_for(
                pilot,
                lambda: shown_states(app) and set(shown_states(app).values()) <= END_STATES,
                seconds=120,
            )
            await pilot.press("escape")

        table = app.screen.query_one(ReleasesTable)
        await wait_for(pilot, lambda: len(table.releases) == 2)
        table.focus()
        table.move_cursor(row=[r["number"] for r in table.releases].index(1))
        await pilot.press("enter")
        await wait_for(pilot, lambda: release_screen(app) is not None)
        await pilot.press("b", "y")
        await wait_for(
            pilot,
            lambda: (
                (s := release_screen(app)) is not None
                and s.release is not None
                and s.release["number"] == 3
            ),
            what="the rollback release",
        )
        await wait_for(
            pilot,
            lambda: shown_states(app) and set(shown_states(app).values()) <= END_STATES,
            seconds=120,
        )
        first, rollback = await Release.get(number=1), await Release.get(number=3)
        assert rollback.status is ReleaseStatus.SUCCEEDED, rollback.error
        assert rollback.digest == first.digest
        assert rollback.trigger == "rollback to #1"


async def test_a_bad_project_name_shows_the_field_error_and_creates_nothing(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await fill(pilot, "#field-name", "Not_A/Name")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: bool(str(app.screen.query_one("#error-name", Label).content)),
            what="the field error",
        )
        assert not await Project.exists()
        # Escape closes the dialog: back on the dashboard, still with no project.
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
        assert not await Project.exists()


async def test_the_sidebar_marks_a_new_app_once_its_first_release_succeeds(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    await make_app(await factory.project("shop", dev="developer"))
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        tree = app.screen.query_one(ProjectTree)

        def sidebar_row() -> str:
            leaf = next(n for b in tree.root.children for n in b.children if n.data)
            return str(leaf.label)

        assert sidebar_row() == "  web"
        await type_dockerfile_and_save(pilot, f"FROM {BASE_IMAGE}\nRUN echo hello", "first")
        await wait_for(pilot, lambda: sidebar_row() == "● web", what="the sidebar's mark")
        assert (await Release.get(number=1)).status is ReleaseStatus.SUCCEEDED
        # The release screen the save opened has its steps (it is not left half-mounted).
        await wait_for(pilot, lambda: shown_states(app), what="the release's steps")
