"""Push to deploy from the dashboard: "deploy now" (its key and palette entry), the
source commit of a release on its row and screen, the Settings tab's auto deploy,
watch paths and webhook secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64
from textual.pilot import Pilot
from textual.widgets import Checkbox, Label, Static, TextArea

from home_idp.server.apps.models import App
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.tui.app import HomeIdpApp
from home_idp.tui.dialogs import ConfirmDialog, TextViewDialog
from home_idp.tui.widgets.app_settings import AppSettings
from home_idp.tui.widgets.releases_table import COLUMNS, ReleasesTable
from tests.components import SOURCE_REPO
from tests.deploy.flow import make_app, save_dockerfile, unique_dockerfile, wait_for_release
from tests.factories import Factory
from tests.fakes import FakeSourceRepos
from tests.fakes.deployer import FakeDeployer
from tests.graphql import GraphQLClient
from tests.tui.conftest import signed_in_dashboard, wait_for
from tests.tui.snapshots import screen_text
from tests.tui.test_app_tabs import click
from tests.tui.test_releases import (
    END_STATES,
    open_app,
    release_screen,
    shown_states,
    type_dockerfile_and_save,
)

SUBJECT = "Greet in French"


@pytest.fixture
def source(app: Starlette, real_components: bool) -> FakeSourceRepos:
    """The fakes' source repositories, which tests push commits to."""
    if real_components:
        pytest.skip("commits are pushed to the fakes' source repositories")
    repos: FakeSourceRepos = app.state.fakes.source
    repos.forget()
    return repos


async def released_web(factory: Factory, gql: GraphQLClient, *, auto_deploy: bool) -> App:
    """shop/web with a Dockerfile whose release succeeded; dev develops shop. Without
    `auto_deploy`, only "deploy now" starts a release from a push."""
    dev = await factory.user("dev")
    web = await make_app(await factory.project("shop", dev="developer"))
    web.auto_deploy = auto_deploy
    await web.save()
    saved = await save_dockerfile(gql, dev.token, web, unique_dockerfile())
    first = await wait_for_release(int(from_base64(saved["release"]["id"])[1]))
    assert first.status is ReleaseStatus.SUCCEEDED, first.error
    return web


def notified(app: HomeIdpApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


def summary(app: HomeIdpApp) -> str:
    screen = release_screen(app)
    # Empty while the screen is still mounting its widgets.
    shown = screen.query("#release-summary").results(Static) if screen else iter(())
    return "".join(str(widget.content) for widget in shown)


async def open_settings(pilot: Pilot[None]) -> AppSettings:
    await open_app(pilot, "shop", "web")
    await pilot.press("alt+3")
    return pilot.app.screen.query_one(AppSettings)


async def test_the_deploy_key_starts_a_release_whose_row_shows_its_source_commit(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient, source: FakeSourceRepos
) -> None:
    await released_web(factory, gql, auto_deploy=False)
    sha = source.push(SOURCE_REPO, message=f"{SUBJECT}\n\nAnd say it twice.", author="Ada")
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await wait_for(pilot, lambda: "f5 Deploy now" in screen_text(app), what="the deploy key")
        palette = [command.title for command in app.get_system_commands(app.screen)]
        assert "Deploy now" in palette

        await pilot.press("f5")
        # Looked for first: a notification goes after a few seconds, and on a
        # loaded machine the release screen can take longer to load.
        await wait_for(pilot, lambda: notified(app, "Release #2 started"), what="the notification")
        await wait_for(
            pilot,
            lambda: (s := release_screen(app)) is not None and s.release is not None,
            what="the new release's screen",
        )
        await wait_for(pilot, lambda: sha[:12] in summary(app), what="the source commit")
        assert SUBJECT in summary(app) and "Ada" in summary(app)
        assert "say it twice" not in summary(app)  # the first line only
        await wait_for(
            pilot,
            lambda: shown_states(app) and set(shown_states(app).values()) <= END_STATES,
            seconds=120,
            what="every step to end",
        )
        second = await Release.get(number=2)
        assert second.status is ReleaseStatus.SUCCEEDED, second.error

        await pilot.press("escape")
        table = app.screen.query_one(ReleasesTable)
        await wait_for(pilot, lambda: len(table.releases) == 2, what="both releases")
        row = [str(cell) for cell in table.get_row_at(0)]
        commit = row[COLUMNS.index("Source commit")]
        assert commit.startswith(sha[:12]) and SUBJECT in commit and "Ada" in commit
        assert sha[:13] not in commit  # shortened


async def test_settings_save_auto_deploy_and_watch_paths_then_offer_to_deploy(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient, source: FakeSourceRepos
) -> None:
    await released_web(factory, gql, auto_deploy=True)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        settings = await open_settings(pilot)
        auto_deploy = settings.query_one("#set-autoDeploy", Checkbox)
        await wait_for(pilot, lambda: auto_deploy.value, what="auto deploy, on by default")
        auto_deploy.value = False
        settings.query_one("#set-watchPaths", TextArea).text = "src/**\n\ndocs/*.md\n"
        await click(pilot, "#save-settings")

        await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the offer to deploy"
        )
        web = await App.get(name="web")
        assert web.auto_deploy is False
        assert web.watch_paths == ["src/**", "docs/*.md"]
        assert await Release.filter().count() == 1  # nothing started before the answer
        # Pushed once auto deploy is off: only the answer starts a release.
        sha = source.push(SOURCE_REPO, message=SUBJECT, author="Ada")

        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (s := release_screen(app)) is not None and s.release is not None,
            what="the new release's screen",
        )
        await wait_for(pilot, lambda: sha[:12] in summary(app), what="the source commit")
        second = await Release.get(number=2)
        assert second.trigger.startswith("deploy")


async def test_an_invalid_watch_path_shows_the_server_s_field_error(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient
) -> None:
    await released_web(factory, gql, auto_deploy=False)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        settings = await open_settings(pilot)
        settings.query_one("#set-watchPaths", TextArea).text = "src/**\n../outside/**"
        await click(pilot, "#save-settings")
        error = settings.query_one("#error-watchPaths", Label)
        await wait_for(pilot, lambda: bool(str(error.content)), what="the watch paths' error")
        assert not isinstance(app.screen, ConfirmDialog)  # nothing saved, nothing offered
        assert (await App.get(name="web")).watch_paths == []


async def test_a_new_webhook_secret_is_shown_once_and_a_second_one_warns_first(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient
) -> None:
    await released_web(factory, gql, auto_deploy=False)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        settings = await open_settings(pilot)
        webhook = settings.query_one("#source-webhook", Label)
        await wait_for(pilot, lambda: "no secret yet" in str(webhook.content))
        assert "/webhooks/source" in str(webhook.content)

        secrets = []
        for replaces in (False, True):
            await click(pilot, "#new-webhook-secret")
            if replaces:
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
                assert "stops working" in screen_text(app)
                await pilot.press("y")
            await wait_for(
                pilot, lambda: isinstance(app.screen, TextViewDialog), what="the secret's dialog"
            )
            shown = screen_text(app)
            found = re.search(r"Secret: (\S+)", shown)
            assert found, shown
            secrets.append(found.group(1))
            assert ("The old secret no longer works" in shown) is replaces
            assert "only time the secret is shown" in shown
            await pilot.press("escape")
            await wait_for(pilot, lambda: "a secret is set" in str(webhook.content))
            assert secrets[-1] not in screen_text(app)
        assert secrets[0] != secrets[1]
        web = await App.get(name="web")
        assert web.source_webhook_ciphertext and secrets[1] not in web.source_webhook_ciphertext


async def test_a_watched_release_counts_down_and_one_rolled_back_says_by_which(
    server_url: str, config_dir: Path, factory: Factory, gql: GraphQLClient, app: Starlette
) -> None:
    web = await released_web(factory, gql, auto_deploy=False)
    await App.filter(id=web.id).update(stability_seconds=120)
    deployer: FakeDeployer = app.state.fakes.deployer
    dashboard = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with dashboard.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "shop", "web")
        await type_dockerfile_and_save(pilot, unique_dockerfile().strip(), "watched")
        await wait_for(pilot, lambda: "verifying ·" in summary(dashboard), what="the watch")
        left = re.search(r"verifying · (\d+) s left", summary(dashboard))
        assert left is not None and 100 < int(left.group(1)) <= 120, summary(dashboard)
        await wait_for(
            pilot,
            lambda: f"verifying · {int(left.group(1)) - 1} s left" in summary(dashboard),
            what="the countdown",
        )

        await deployer.crash("shop", "web", 3)
        await wait_for(
            pilot,
            lambda: "rolled back by #3" in summary(dashboard),
            what=lambda: f"the rollback in {summary(dashboard)!r}",
        )
        assert "exit code 3" in summary(dashboard)
        await pilot.press("escape", "alt+2")
        table = dashboard.screen.query_one(ReleasesTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="the rollback's row")
        await pilot.pause()
        rows = screen_text(dashboard)
        assert "failed ↩ rolled back by #3" in rows and "auto rollback to #1" in rows
