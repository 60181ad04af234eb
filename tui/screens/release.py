"""One release, live: its steps, build log, manifest plan and trace.

Release events are the trigger to reload the release (rows are the truth);
the build log and the trace's spans stream in through their own
subscriptions. Every stream resumes after a dropped connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from home_idp.tui.context import home_of
from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.results import (
    BUILD_LOG,
    CANCEL_RELEASE,
    RELEASE_DETAIL,
    RELEASE_EVENTS,
    RELEASE_PLAN,
    RETRY_RELEASE,
    ROLLBACK,
    Mutation,
    ReleaseDetail,
)
from home_idp.tui.screens.traces import follow_spans
from home_idp.tui.widgets.build_log import BuildLogView
from home_idp.tui.widgets.formatting import duration, release_state, safe_text, source_commit
from home_idp.tui.widgets.offline_banner import OfflineBanner
from home_idp.tui.widgets.steps_view import StepsView
from home_idp.tui.widgets.trace_view import TraceView

__all__ = ["ReleaseScreen"]

Payload = TypeVar("Payload")

# The release actions, and the states of a release each applies to (as the server rules).
_NEEDS_STATE: dict[str, Callable[[ReleaseDetail], bool]] = {
    "cancel": lambda release: release["status"] == "RUNNING",
    "retry": lambda release: (
        release["status"] in ("FAILED", "CANCELLED") and release["rolledBackBy"] is None
    ),
    "rollback": lambda release: release["status"] == "SUCCEEDED",
}


class ReleaseScreen(Screen[None]):
    """Pushed from the releases table or right after a save."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "cancel", "Cancel release"),
        Binding("t", "retry", "Retry failed step"),
        Binding("b", "rollback", "Roll back to this"),
        # Plain digits: Alt+digit does not reach every terminal (nor tmux by default).
        Binding("1,alt+1", "show_tab('tab-steps')", "Steps"),
        Binding("2,alt+2", "show_tab('tab-log')", "Log"),
        Binding("3,alt+3", "show_tab('tab-plan')", "Plan"),
        Binding("4,alt+4", "show_tab('tab-trace')", "Trace"),
    ]

    def __init__(self, release_id: str) -> None:
        super().__init__()
        self.release_id = release_id
        self.release: ReleaseDetail | None = None
        self._trace_followed: str | None = None
        self._reload_due = False
        self.plan_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield OfflineBanner(id="offline")
        yield Static("Loading…", id="release-summary")
        with TabbedContent(id="release-tabs"):
            with TabPane("Steps", id="tab-steps"):
                yield StepsView(id="steps")
            with TabPane("Build log", id="tab-log"):
                yield BuildLogView(id="build-log")
            with TabPane("Plan", id="tab-plan"), VerticalScroll():
                yield Static("", id="plan")
            with TabPane("Trace", id="tab-trace"):
                yield TraceView()
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.follow_events()
        self.follow_log()
        # Events drive the screen; a slow look now and then covers one that got lost.
        self.set_interval(5, self._check_running)
        self.set_interval(1, self._count_down)

    def _check_running(self) -> None:
        if self.release is not None and self.release["status"] == "RUNNING":
            self.load_release()

    def reload(self) -> None:
        self.load_release()

    def action_show_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = tab
        # The pane's own keys (follow, search) work at once, without a Tab first.
        focusable = tabs.get_pane(tab).query("LogLines, Waterfall, VerticalScroll")
        if focusable:
            focusable.first().focus()

    # -- the release and its steps --------------------------------------------

    @work(exclusive=True, group="release", exit_on_error=False)
    async def load_release(self) -> None:
        home = home_of(self)
        with home.reporting():
            release = (await home.gateway.execute(RELEASE_DETAIL, id=self.release_id))["node"]
            if release is None:
                self.query_one("#release-summary", Static).update("This release is gone.")
                return
            self.show_release(release)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only what the server would do for a release in this state is offered.
        release = self.release
        if action in _NEEDS_STATE:
            return release is not None and _NEEDS_STATE[action](release)
        return True

    def show_release(self, release: ReleaseDetail) -> None:
        self.release = release
        self.refresh_bindings()
        app = release["app"]
        self.title = f"{app['project']['name']} / {app['name']} — release #{release['number']}"
        self._show_summary(release)
        self.query_one(StepsView).show(release["steps"])
        trace_id = release["traceId"]
        if trace_id and self._trace_followed != trace_id:
            self._trace_followed = trace_id
            self.follow_trace(trace_id)

    def _count_down(self) -> None:
        """While the app is watched after its rollout, the time left goes down each second."""
        release = self.release
        if release is not None and release["verifyUntil"] and release["status"] == "RUNNING":
            self._show_summary(release)

    def _show_summary(self, release: ReleaseDetail) -> None:
        parts = [
            release_state(release),
            safe_text(f"trigger {release['trigger']}"),
            safe_text(f"by {release['createdBy']}"),
            safe_text(f"took {duration(release['durationMs'])}"),
        ]
        if release["image"]:
            parts.append(safe_text(f"image {release['image']}"))
        if release["url"]:
            parts.append(safe_text(release["url"]))
        summary = Text(" · ").join(parts)
        commit = release["sourceCommit"]
        if commit is not None:
            summary.append("\nsource ")
            summary.append_text(source_commit(commit))
            if commit["url"]:
                summary.append_text(safe_text(f" · {commit['url']}", "dim"))
        if release["status"] == "SUPERSEDED":
            # Not a failure: a newer push is being built instead.
            summary.append("\n")
            summary.append_text(
                safe_text(
                    release["error"] or "A newer push overtook this release before its build.",
                    "blue",
                )
            )
        elif release["error"]:
            summary.append("\n")
            summary.append_text(safe_text(release["error"], "bold red"))
        self.query_one("#release-summary", Static).update(summary)

    @work(exclusive=True, group="events", exit_on_error=False)
    async def follow_events(self) -> None:
        home = home_of(self)
        with home.reporting():
            async for _event in home.gateway.subscribe(RELEASE_EVENTS, releaseId=self.release_id):
                # Events come in bursts: the first one schedules a reload that covers them all.
                if not self._reload_due:
                    self._reload_due = True
                    self.set_timer(0.1, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.load_release()

    # -- build log, plan and trace ------------------------------------------

    @work(exclusive=True, group="log", exit_on_error=False)
    async def follow_log(self) -> None:
        view = self.query_one(BuildLogView)
        home = home_of(self)
        with home.reporting():
            async for line in home.gateway.subscribe(BUILD_LOG, releaseId=self.release_id):
                view.append(f"[{line['step']}] {line['text']}")

    @on(TabbedContent.TabActivated, pane="#tab-plan")
    def _plan_shown(self) -> None:
        self.load_plan()

    @work(exclusive=True, group="plan", exit_on_error=False)
    async def load_plan(self) -> None:
        home = home_of(self)
        with home.reporting():
            plan = (await home.gateway.execute(RELEASE_PLAN, releaseId=self.release_id))[
                "releasePlan"
            ]
            files = ", ".join(plan["files"]) or "none yet"
            text = plan["diff"] or "(no change to the manifests)"
            self.plan_text = f"# {plan['folder']}: {files}\n{text}"
            self.query_one("#plan", Static).update(Syntax(self.plan_text, "diff", word_wrap=True))

    @work(exclusive=True, group="trace", exit_on_error=False)
    async def follow_trace(self, trace_id: str) -> None:
        await follow_spans(self, trace_id)

    # -- actions ------------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_cancel(self) -> None:
        question = "Stop this release where it is? The live release keeps serving."
        if not await self.app.push_screen_wait(
            ConfirmDialog(question, "Stop the release", decline_label="Keep it running")
        ):
            return
        await self._act(CANCEL_RELEASE, "Cancelled.", input={"id": self.release_id})

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_retry(self) -> None:
        if await self._act(
            RETRY_RELEASE, "Retrying from the failed step.", input={"id": self.release_id}
        ):
            # The build log's stream ends with the build: start it again, from the top.
            self.query_one(BuildLogView).clear()
            self.follow_log()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_rollback(self) -> None:
        if self.release is None:
            return
        number = self.release["number"]
        question = f"Deploy release #{number}'s image again, as a new release?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, "Roll back")):
            return
        result = await self._act(
            ROLLBACK,
            f"Rolling back to #{number}.",
            input={"app": self.release["app"]["id"], "release": self.release_id},
        )
        if result is not None:
            self.app.switch_screen(ReleaseScreen(result["release"]["id"]))

    async def _act(
        self, mutation: Mutation[Payload], done: str, **variables: object
    ) -> Payload | None:
        home = home_of(self)
        with home.reporting():
            result = await home.gateway.mutate(mutation, **variables)
            self.notify(done, markup=False)
            self.load_release()
            return result
        return None
