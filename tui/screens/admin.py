"""The admin screen (f3, administrators only): users, projects, roles, audit, webhooks
and components, one tab each.

Each tab is a widget that asks for its data the first time it is shown, so
opening the screen costs one query, not six. The tabs do no network work:
they post messages, which `AdminRequests` answers. The digits 1-6 switch
tabs and put the focus in the tab's table, where its actions show in the
footer.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent, TabPane

from home_idp.tui.screens.admin_requests import AdminRequests
from home_idp.tui.widgets.admin_audit import AdminAudit
from home_idp.tui.widgets.admin_components import AdminComponents
from home_idp.tui.widgets.admin_projects import AdminProjects
from home_idp.tui.widgets.admin_roles import AdminRoles
from home_idp.tui.widgets.admin_tab import AdminTab
from home_idp.tui.widgets.admin_users import AdminUsers
from home_idp.tui.widgets.admin_webhooks import AdminWebhooks
from home_idp.tui.widgets.offline_banner import OfflineBanner

__all__ = ["TABS", "AdminScreen"]

TABS: list[tuple[str, str, type[AdminTab[Any]]]] = [
    ("users", "1 Users", AdminUsers),
    ("projects", "2 Projects", AdminProjects),
    ("roles", "3 Roles", AdminRoles),
    ("audit", "4 Audit log", AdminAudit),
    ("webhooks", "5 Webhooks", AdminWebhooks),
    ("components", "6 Components", AdminComponents),
]
"""(tab id, title, widget class) of each tab, in order."""


class AdminScreen(AdminRequests):
    """Administration of the whole server, for global admins."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        *(
            Binding(str(number), f"show_tab('{tab}')", title, show=False)
            for number, (tab, title, _widget) in enumerate(TABS, start=1)
        ),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield OfflineBanner(id="offline")
        with TabbedContent(initial="users", id="admin-tabs"):
            for tab, title, widget in TABS:
                with TabPane(title, id=tab):
                    yield widget(id=f"admin-{tab}")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Administration"
        self.focus_table("users")

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.focus_table(tab)

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A click on a tab leaves the focus on the tab bar, where the tab's
        # actions would not show; the tab's table is where they work.
        if event.pane.id is not None:
            self.focus_table(event.pane.id)

    def focus_table(self, tab: str) -> None:
        self.call_after_refresh(self.query_one(f"#admin-{tab}", AdminTab).table.focus)

    def reload(self) -> None:
        """Reload the tab on show (the app calls this when the server is back)."""
        active = self.query_one(TabbedContent).active
        if active:
            self.query_one(f"#admin-{active}", AdminTab).reload()
