"""The admin screen against a real server: users, members, the live audit log,
webhook deliveries and components."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog

from home_idp.plugins.installer.contract import ComponentStatus
from home_idp.server.install.catalog import catalog
from home_idp.server.install.manager import INSTALL_TOPIC, InstallEvent
from home_idp.server.rbac.models import User, UserStatus
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from home_idp.tui.client import ActionFailed, Gateway
from home_idp.tui.dialogs import FormDialog, TextViewDialog
from home_idp.tui.results import ADMIN_APPROVE_USER
from home_idp.tui.screens.admin import AdminScreen
from home_idp.tui.widgets.admin_audit import AdminAudit
from home_idp.tui.widgets.admin_components import AdminComponents
from home_idp.tui.widgets.admin_projects import AdminProjects
from home_idp.tui.widgets.admin_users import AdminUsers
from home_idp.tui.widgets.admin_webhooks import AdminWebhooks
from tests.factories import PASSWORD, Factory
from tests.tui.conftest import dashboard, log_in, signed_in_dashboard, type_text, wait_for

SIZE = (120, 36)
NEW_PASSWORD = "a brand new password"


async def open_admin(pilot: Pilot[None]) -> AdminScreen:
    """Open the admin screen with f3 from an administrator's dashboard."""
    app = pilot.app
    # The dashboard learns the user is an admin from its first query.
    await wait_for(pilot, lambda: getattr(app, "is_admin", False), what="admin rights known")
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(app.screen, AdminScreen), what="admin screen")
    assert isinstance(app.screen, AdminScreen)
    return app.screen


def highlight(table: DataTable[object], key: str) -> None:
    table.move_cursor(row=table.get_row_index(key))


async def test_an_admin_approves_a_pending_user(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice", admin=True)
    bob = await factory.user("bob", status=UserStatus.PENDING)
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        users = screen.query_one(AdminUsers)
        table = users.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both users listed")
        assert "pending" in str(table.get_row(bob.gid)[1])

        highlight(table, bob.gid)
        await pilot.press("a")
        await wait_for(
            pilot, lambda: "active" in str(table.get_row(bob.gid)[1]), what="row shows active"
        )
        assert (await User.get(username="bob")).status == UserStatus.ACTIVE


async def test_an_admin_resets_a_password(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice", admin=True)
    bob = await factory.user("bob")
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        table = screen.query_one(AdminUsers).query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="users listed")
        highlight(table, bob.gid)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="password form")
        await pilot.click("#field-newPassword")
        await type_text(pilot, NEW_PASSWORD)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AdminScreen), what="form closed")

    gateway = Gateway(server_url)
    try:
        with pytest.raises(ActionFailed):
            await gateway.login("bob", PASSWORD)
        session = await gateway.login("bob", NEW_PASSWORD)
        assert session.username == "bob"
    finally:
        await gateway.aclose()


async def test_a_non_admin_gets_no_admin_screen(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("bob")
    app = await signed_in_dashboard(factory, server_url, config_dir, "bob")
    async with app.run_test(size=SIZE) as pilot:
        # Once the dashboard knows who is logged in it knows bob is no admin.
        await wait_for(pilot, lambda: "bob" in str(app.screen.sub_title), what="user known")
        await pilot.press("f3")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, AdminScreen)


async def test_an_admin_adds_a_project_member(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice", admin=True)
    await factory.user("carol")
    await factory.project("shop", alice="maintainer")
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        await pilot.press("2")
        projects = screen.query_one(AdminProjects)
        await wait_for(pilot, lambda: "alice" in projects.members, what="shop's members")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="member form")
        await pilot.click("#field-username")
        await type_text(pilot, "carol")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "carol" in projects.members, what="carol listed")
        assert projects.members["carol"]["role"]["name"] == "developer"


async def test_the_audit_log_shows_new_events_live(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice", admin=True)
    bob = await factory.user("bob", status=UserStatus.PENDING)
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "alice")
        screen = await open_admin(pilot)
        await pilot.press("4")
        audit = screen.query_one(AdminAudit)
        # alice's login is the first event; the subscription resumes after it.
        await wait_for(pilot, lambda: audit.events, what="the login event")

        # Another session of alice's approves bob; the tab is not reloaded.
        gateway = Gateway(server_url)
        try:
            await gateway.login("alice", PASSWORD)
            await gateway.mutate(ADMIN_APPROVE_USER, input={"userId": bob.gid})
        finally:
            await gateway.aclose()
        await wait_for(
            pilot,
            lambda: audit.events[0]["action"] == "user.approve",
            what="the approval at the top",
        )
        assert str(audit.query_one(DataTable).get_row_at(0)[2]) == "user.approve"


async def test_the_webhook_tab_lists_an_unsigned_delivery(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    await factory.user("alice", admin=True)
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{server_url}/webhooks/git",
            content=b"{}",
            headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-42"},
        )
    assert answer.status_code == 401
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        await pilot.press("5")
        webhooks = screen.query_one(AdminWebhooks)
        table = webhooks.query_one(DataTable)
        # The test registry may report pushes of its own; find ours by its id.
        await wait_for(
            pilot,
            lambda: any(d["deliveryId"] == "delivery-42" for d in webhooks.deliveries),
            what="the delivery",
        )
        ours = next(d for d in webhooks.deliveries if d["deliveryId"] == "delivery-42")
        highlight(table, str(ours["id"]))
        row = [str(cell) for cell in table.get_row(str(ours["id"]))]
        assert row[1:4] == ["git", "push", "delivery-42"]
        assert "✗" in row[4]
        assert "rejected" in row[5]

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextViewDialog), what="detail")
        dialog = app.screen
        assert isinstance(dialog, TextViewDialog)
        assert "X-Hub-Signature-256" in dialog.text
        await pilot.press("escape")


async def test_server_text_that_looks_like_markup_is_shown_literally(
    server_url: str, config_dir: Path, factory: Factory
) -> None:
    """Anyone can put text in the audit log (a failed login's username) and in the
    webhook deliveries (an unsigned request's headers): it shows as typed, never
    as markup that could crash the dashboard, and without escape characters."""
    await factory.user("alice", admin=True)
    username = "[/x]\x1b[31m"
    app = dashboard(server_url, config_dir)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "alice")
        screen = await open_admin(pilot)
        await pilot.press("5")
        webhooks = screen.query_one(AdminWebhooks)
        await wait_for(pilot, lambda: webhooks._loaded, what="the webhooks tab")
        await pilot.press("4")
        audit = screen.query_one(AdminAudit)
        # alice's login is the first event; the subscription follows from it.
        await wait_for(pilot, lambda: audit.events, what="the login event")

        async with httpx.AsyncClient() as client:
            login = await client.post(
                f"{server_url}/graphql",
                json={
                    "query": "mutation($input: LoginInput!) { login(input: $input) { __typename } }",
                    "variables": {"input": {"username": username, "password": "wrong password"}},
                },
            )
            assert login.json()["data"]["login"]["__typename"] == "AuthenticationFailed"
            hook = await client.post(
                f"{server_url}/webhooks/git",
                content=b"{}",
                headers={"X-GitHub-Event": "[/bad]", "X-GitHub-Delivery": "[b]d[/b]"},
            )
            assert hook.status_code == 401

        # The audit tab is live: the failed login arrives without a reload.
        await wait_for(
            pilot,
            lambda: audit.events[0]["actor"] == username,
            what="the failed login at the top",
        )
        audit_table = audit.query_one(DataTable)
        row = audit_table.get_row_at(0)
        shown = [str(cell) for cell in row]
        assert shown[1] == "[/x]"
        assert shown[3] == "user:[/x]"
        assert all("\x1b" not in cell for cell in shown)
        assert "failed" in shown[5]
        await pilot.pause()  # painted, not only stored

        await pilot.press("5")
        webhooks.reload()
        await wait_for(
            pilot,
            lambda: any(d["event"] == "[/bad]" for d in webhooks.deliveries),
            what="the unsigned delivery",
        )
        ours = next(d for d in webhooks.deliveries if d["event"] == "[/bad]")
        webhooks_table = webhooks.query_one(DataTable)
        highlight(webhooks_table, str(ours["id"]))
        cells = [str(cell) for cell in webhooks_table.get_row(str(ours["id"]))]
        assert cells[2:4] == ["[/bad]", "[b]d[/b]"]
        await pilot.pause()
        assert app.is_running
        assert isinstance(app.screen, AdminScreen)


async def test_the_components_tab_lists_the_profile_components(
    server_url: str, config_dir: Path, factory: Factory, settings: Settings, runtime: Runtime
) -> None:
    await factory.user("alice", admin=True)
    app = await signed_in_dashboard(factory, server_url, config_dir, "alice")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        await pilot.press("6")
        components = screen.query_one(AdminComponents)
        expected = [entry.spec.name for entry in catalog(settings)]
        await wait_for(pilot, lambda: components.components, what="components")
        assert [c["name"] for c in components.components] == expected
        table = components.query_one(DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == expected

        # Progress comes over the server's event bus, as an install reports it.
        name = expected[0]
        event = InstallEvent(name, ComponentStatus.INSTALLING, "pulling the image")

        def progressed() -> bool:
            # Published until it arrives: the subscription may connect after the query.
            runtime.bus.publish(INSTALL_TOPIC, event)
            return "installing" in str(table.get_row(name)[4])

        await wait_for(pilot, progressed, what="the progress in the row")
        assert str(table.get_row(name)[5]) == "pulling the image"
        log = components.query_one(RichLog)
        await wait_for(pilot, lambda: log.lines, what="the progress in the log")
        assert "pulling the image" in log.lines[0].text
