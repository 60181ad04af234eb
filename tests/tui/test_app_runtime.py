"""A running app from the dashboard: its Resources tab (the container ready) and its
Logs tab (a request to the app shows up as a line), followed only while shown."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from textual.widgets import Label

from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.runtime import Runtime
from home_idp.tui.widgets.app_logs import AppLogs
from home_idp.tui.widgets.app_resources import AppResources
from tests.components import BASE_IMAGE
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.tui.conftest import signed_in_dashboard, wait_for
from tests.tui.snapshots import screen_text
from tests.tui.test_releases import END_STATES, open_app, shown_states, type_dockerfile_and_save

# Real components: the system tier.
pytestmark = pytest.mark.system

# busybox httpd; -v logs each response's status to stderr, which the logs carry.
DOCKERFILE = (
    f"FROM {BASE_IMAGE}\nCOPY index.html /www/index.html\n"
    "CMD httpd -f -v -p 0.0.0.0:$PORT -h /www\n"
)


async def test_a_running_app_shows_its_container_and_its_logs_while_the_tab_is_shown(
    server_url: str, config_dir: Path, factory: Factory, runtime: Runtime
) -> None:
    await factory.user("dev")
    # A project of its own: containers of other tests' shop/web may still run.
    project = await factory.project("tail", dev="maintainer")
    await make_app(project)
    app = await signed_in_dashboard(factory, server_url, config_dir, "dev")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_app(pilot, "tail", "web")
        await type_dockerfile_and_save(pilot, DOCKERFILE, "serve")
        await wait_for(
            pilot,
            lambda: shown_states(app) and set(shown_states(app).values()) <= END_STATES,
            seconds=120,
            what=lambda: f"the release to end; shown {shown_states(app)}",
        )
        release = await Release.get(number=1)
        assert release.status is ReleaseStatus.SUCCEEDED, release.error
        assert release.url
        await pilot.press("escape")

        await pilot.press("alt+7")
        resources = app.screen.query_one(AppResources)
        await wait_for(
            pilot,
            lambda: any(r["kind"] == "Container" and r["ready"] for r in resources.resources),
            seconds=30,
            what=lambda: f"a ready container; shown {resources.resources}",
        )
        await wait_for(pilot, lambda: "✓" in screen_text(app), what="the ready mark")
        assert resources.may_delete_pods and "Delete pod" in screen_text(app)

        await pilot.press("alt+6")
        logs = app.screen.query_one(AppLogs)
        status = logs.query_one("#logs-status", Label)
        await wait_for(
            pilot,
            lambda: "following 1 container" in str(status.content),
            what=lambda: f"the logs to follow; status {status.content}",
        )
        assert not resources._timer  # the hidden Resources tab stopped reloading
        # Health checks ask for "/" (200); only the test asks for a page that is not there.
        missing = f"/missing-{uuid.uuid4().hex[:8]}"
        lines = logs.view.log_widget.lines

        def logged_404() -> bool:
            return any("response:404" in line for line in lines)

        async with httpx.AsyncClient() as client:
            for _ in range(20):  # the stream may start just after a first request
                assert (await client.get(release.url.rstrip("/") + missing)).status_code == 404
                try:
                    await wait_for(pilot, logged_404, 1.0)
                    break
                except AssertionError:
                    continue
        assert logged_404(), lines[-5:]
        line = next(line for line in lines if "response:404" in line)
        assert line.startswith("hidp-tail-web") and " │ " in line
        assert "response:404" in screen_text(app)
        assert runtime.deploy.log_slots.open == 1

        # Leaving the tab cancels the worker, which closes the server's log stream.
        await pilot.press("alt+1")
        await wait_for(pilot, lambda: not logs.following, what="the logs to stop")
        await wait_for(
            pilot, lambda: runtime.deploy.log_slots.open == 0, what="the server's stream to close"
        )
