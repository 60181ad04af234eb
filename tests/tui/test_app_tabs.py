"""An app's Settings tab (secrets never shown), its Dockerfile history and diff,
and a finished release's plan and trace, from the dashboard."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, TabbedContent, TabPane, TextArea

from home_idp.server.apps.models import App, AppSecret, DockerfileVersion, SourceCredential
from home_idp.tui.dialogs import FormDialog, TextViewDialog, VersionsDialog
from home_idp.tui.screens.dashboard import DashboardScreen
from home_idp.tui.screens.release import ReleaseScreen
from home_idp.tui.screens.traces import TraceScreen, TracesScreen
from home_idp.tui.widgets.waterfall import Waterfall
from tests.components import BASE_IMAGE
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.tui.conftest import signed_in_dashboard, wait_for
from tests.tui.snapshots import screen_text
from tests.tui.test_releases import END_STATES, open_app, shown_states, type_dockerfile_and_save


async def click(pilot: Pilot[None], selector: str) -> None:
    """Press a button from the keyboard: the Settings tab is taller than the screen,
    and a click at a scrolled button's stale place can land on the header."""
    button = pilot.app.screen.query_one(selector)
    button.focus()
    await pilot.pause()
    # A button ignores a press while it still shows the last one (about 0.2 s).
    await wait_for(pilot, lambda: not button.has_class("-active"), what="the button to be ready")
    await pilot.press("enter")


async def set_input(pilot: object, selector: str, value: str) -> None:
    app = pilot.app  # type: ignore[attr-defined]
    field = app.screen.query_one(selector, Input)
    field.value = value


async def test_settings_are_saved_and_a_bad_value_changes_nothing(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    await make_app(project)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await pilot.press("alt+3")
        await set_input(pilot, "#set-port", "9090")
        app.screen.query_one("#set-env", TextArea).text = "GREETING=hello\n# a comment\nMODE=dev"
        await click(pilot, "#save-settings")
        await wait_for(
            pilot, lambda: any("Settings saved" in n.message for n in app._notifications)
        )
        web = await App.get(name="web")
        assert web.port == 9090
        assert web.env == {"GREETING": "hello", "MODE": "dev"}

        await set_input(pilot, "#set-port", "70000")
        await click(pilot, "#save-settings")
        error = app.screen.query_one("#error-port", Label)
        await wait_for(pilot, lambda: bool(str(error.content)), what="the port error")
        assert (await App.get(name="web")).port == 9090

        app.screen.query_one("#set-env", TextArea).text = "no equals sign"
        await click(pilot, "#save-settings")
        env_error = app.screen.query_one("#error-env", Label)
        await wait_for(pilot, lambda: "NAME=value" in str(env_error.content))


async def test_a_secret_is_set_and_cleared_and_its_value_never_shows(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    await make_app(project)
    value = f"s3cr3t-{uuid.uuid4().hex}"
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await pilot.press("alt+3")
        await click(pilot, "#set-secret")
        await wait_for(pilot, lambda: bool(app.screen.query("#field-value")))
        await set_input(pilot, "#field-name", "API_KEY")
        await set_input(pilot, "#field-value", value)
        assert value not in screen_text(app)  # a password field
        await pilot.click("#submit")
        await wait_for(pilot, lambda: bool(app.screen.query("#secrets")), what="the form to close")
        secrets = app.screen.query_one("#secrets", DataTable)
        await wait_for(pilot, lambda: secrets.row_count == 1, what="the secret's row")
        row = [str(cell) for cell in secrets.get_row_at(0)]
        assert row[:2] == ["API_KEY", "dev"]
        assert value not in screen_text(app)
        assert not any(value in cell for cell in row)
        assert await AppSecret.exists(name="API_KEY")

        secrets.focus()
        await click(pilot, "#clear-secret")
        await pilot.press("y")
        await wait_for(pilot, lambda: secrets.row_count == 0, what="the secret to go")
        assert not await AppSecret.exists(name="API_KEY")
    assert value not in SessionText(config_dir).read()


async def test_a_source_credential_is_set_from_a_key_file_and_never_shows(
    server_url: str, config_dir: Path, factory: Factory, tmp_path: Path
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    await App.filter(id=web.id).update(source_repo="ssh://git@127.0.0.1:9/shop/web.git")
    secret_line = uuid.uuid4().hex
    key = tmp_path / "deploy_key"
    key.write_text(
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{secret_line}\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await pilot.press("alt+3")
        shown = app.screen.query_one("#source-credential", Label)
        assert "none" in str(shown.content)
        await click(pilot, "#set-source-credential")
        await wait_for(pilot, lambda: bool(app.screen.query("#field-sshKeyFile")))
        await set_input(pilot, "#field-sshKeyFile", str(tmp_path / "missing"))
        await pilot.click("#submit")
        missing = app.screen.query_one("#error-sshKeyFile", Label)
        await wait_for(pilot, lambda: bool(str(missing.content)), what="the file error")
        assert not await SourceCredential.exists()
        await set_input(pilot, "#field-sshKeyFile", str(key))
        await click(pilot, "#submit")
        await wait_for(pilot, lambda: "ssh-key" in str(shown.content), what="the credential")
        assert "set by dev" in str(shown.content)
        assert secret_line not in screen_text(app)
        assert (await SourceCredential.get()).kind == "ssh-key"

        await click(pilot, "#clear-source-credential")
        await pilot.press("y")
        await wait_for(pilot, lambda: "none" in str(shown.content), what="the credential to go")
        assert not await SourceCredential.exists()
    assert secret_line not in SessionText(config_dir).read()


class SessionText:
    """Everything the dashboard wrote to the user's config dir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def read(self) -> str:
        return "".join(p.read_text() for p in self.folder.rglob("*") if p.is_file())


async def test_versions_and_the_diff_between_them(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    for number, line in ((1, "RUN echo one"), (2, "RUN echo two")):
        await DockerfileVersion.create(
            app=web,
            number=number,
            content=f"FROM {BASE_IMAGE}\n{line}\n",
            author="dev",
            message=f"version {number}",
        )
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        editor = app.screen.query_one("#editor TextArea", TextArea)
        await wait_for(pilot, lambda: "echo two" in editor.text, what="the current version")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionsDialog))
        assert "version 1" in screen_text(app) and "version 2" in screen_text(app)
        await pilot.press("down", "enter")  # v1 (newest first)
        await wait_for(pilot, lambda: isinstance(app.screen, TextViewDialog), what="the diff")
        shown = screen_text(app)
        assert "-RUN echo one" in shown and "+RUN echo two" in shown


async def test_a_finished_release_shows_its_plan_and_its_trace(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    await make_app(project)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await type_dockerfile_and_save(
            pilot,
            f"FROM {BASE_IMAGE}\nRUN echo traced\nCOPY index.html /app/index.html\n"
            "COPY run /app/run\nCMD /app/run\n",
            "traced",
        )
        await wait_for(pilot, lambda: isinstance(app.screen, ReleaseScreen))
        await wait_for(
            pilot,
            lambda: shown_states(app) and set(shown_states(app).values()) <= END_STATES,
            seconds=120,
        )
        screen = app.screen
        assert isinstance(screen, ReleaseScreen)
        assert set(shown_states(app).values()) == {"SUCCEEDED"}, shown_states(app)
        # Only what applies to a release that succeeded is offered.
        await wait_for(pilot, lambda: "Roll back to this" in screen_text(app), what="rollback")
        assert "Cancel release" not in screen_text(app)
        assert "Retry failed step" not in screen_text(app)
        await pilot.press("c")
        assert isinstance(app.screen, ReleaseScreen)  # no question about cancelling it
        await pilot.press("3")
        await wait_for(
            pilot,
            # The platform repo outlives each test: the app's manifests may exist
            # already, so the diff is a new file or a changed image, an image line either way.
            lambda: re.search(r"^\+\s+image: ", screen.plan_text, re.MULTILINE) is not None,
            what=lambda: f"the plan; it reads {screen.plan_text[:300]!r}",
        )
        await wait_for(pilot, lambda: "deployment.yaml" in screen_text(app), what="the plan shown")

        await pilot.press("alt+4")
        waterfall = app.screen.query_one(Waterfall)
        await wait_for(
            pilot,
            lambda: {"build image", "git commit"} <= {s["name"] for s in waterfall.rows},
            what="the release's spans",
        )
        await wait_for(pilot, lambda: "build image" in screen_text(app))
        waterfall.focus()
        await pilot.press("enter")  # the span under the cursor, whole, as JSON
        await wait_for(pilot, lambda: isinstance(app.screen, TextViewDialog), what="span JSON")
        assert '"spanId"' in screen_text(app)
        await pilot.press("escape")

        # The same trace from the traces browser.
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, TracesScreen))
        table = app.screen.query_one("#traces", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, what="the traces table")
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen))
        browser = app.screen.query_one(Waterfall)
        await wait_for(pilot, lambda: len(browser.rows) >= 3, what="spans in the browser")


async def test_a_viewer_gets_a_read_only_editor(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("guest")
    project = await factory.project("shop", guest="viewer")
    web = await make_app(project)
    await DockerfileVersion.create(
        app=web, number=1, content=f"FROM {BASE_IMAGE}\n", author="dev", message="first"
    )
    app = await signed_in_dashboard(factory, server_url, config_dir, "guest")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        editor = app.screen.query_one("#editor TextArea", TextArea)
        await wait_for(pilot, lambda: "FROM" in editor.text, what="the Dockerfile")
        editor.focus()
        await pilot.press("end", *"RUN x", "ctrl+s")
        await pilot.pause()
        assert editor.text == f"FROM {BASE_IMAGE}\n"
        assert not isinstance(app.screen, FormDialog)  # no "what changed?" to save
        assert await DockerfileVersion.filter(app=web).count() == 1


async def test_the_diff_compares_with_the_version_saved_last_not_the_one_opened(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    await DockerfileVersion.create(
        app=web, number=1, content=f"FROM {BASE_IMAGE}\nRUN echo one\n", author="dev", message="one"
    )
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await type_dockerfile_and_save(pilot, f"FROM {BASE_IMAGE}\nRUN echo two", "two")
        await wait_for(pilot, lambda: isinstance(app.screen, ReleaseScreen), what="the release")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionsDialog))
        await pilot.press("down", "enter")  # v1 (newest first)
        await wait_for(pilot, lambda: isinstance(app.screen, TextViewDialog), what="the diff")
        shown = screen_text(app)
        assert "v1 → current (v2)" in shown
        assert "-RUN echo one" in shown and "+RUN echo two" in shown


async def test_each_tab_opens_with_alt_digits_while_the_editor_has_focus_and_stays_open(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("dev")
    await make_app(await factory.project("shop", dev="developer"))
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        tabs = app.screen.query_one("#app-tabs", TabbedContent)
        editor = app.screen.query_one("#editor TextArea", TextArea)

        async def open_tab(key: str, pane: str) -> None:
            await pilot.press(key)
            await wait_for(pilot, lambda: tabs.active == pane, what=pane)
            # Long enough for a focus left in the hidden pane to pull it back.
            await pilot.pause(0.6)
            assert tabs.active == pane
            focused = app.focused
            assert focused is not None and pane in [w.id for w in focused.ancestors_with_self]

        for key, pane in (("alt+2", "tab-releases"), ("alt+3", "tab-settings")):
            await open_tab("alt+1", "tab-dockerfile")
            assert app.focused is editor
            await open_tab(key, pane)
        assert editor.text == ""

        # alt+2 then alt+3 in quick succession: the Releases tab's focus message,
        # arriving late, does not switch back from Settings.
        releases = tabs.get_pane("tab-releases")
        releases.post_message(TabPane.Focused(releases))
        await pilot.pause(0.3)
        assert tabs.active == "tab-settings"
