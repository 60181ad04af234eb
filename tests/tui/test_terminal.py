"""The real `home-idp tui` in a real terminal (tmux), against a real server process:
log in, open an app, type a Dockerfile, save it and see its release start."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.database import scratch_database
from tests.serverprocess import ADMIN_PASSWORD, HOME_IDP, ServerProcess, home_idp_env
from tests.tui.tmux import Tmux, tmux_binary

CREATE_PROJECT = (
    "mutation($n: String!) { createProject(input: {name: $n}) { __typename "
    "... on ProjectSuccess { project { id } } ... on Error { message } } }"
)
CREATE_APP = (
    "mutation($p: ID!, $n: String!, $s: String!) { createApp(input: {project: $p, name: $n, "
    "sourceRepo: $s}) { __typename ... on AppSuccess { app { id } } ... on Error { message } } }"
)
SOURCE = "https://git.example.com/web.git"
# The first steps of a release and its last, as the release screen lists them.
STEPS = ("commit", "await-push", "build", "rollout")
SAVED = (
    "query($id: ID!) { node(id: $id) { ... on App { "
    "dockerfileVersions { edges { node { number content message author } } } "
    "releases { edges { node { number dockerfileVersion { number } } } } } } }"
)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux(tmux_binary())
    try:
        yield terminal
    finally:
        terminal.kill()


@pytest.fixture
async def fresh_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the test backend, for this test's server alone."""
    async with scratch_database(tmp_path) as url:
        yield url


@pytest.fixture
def server(tmp_path: Path, fresh_database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(home_idp_env(tmp_path / "data", fresh_database_url))
    process.create_admin()
    try:
        process.start()
        process.login()
        yield process
    finally:
        process.stop()


def field_shows(screen: str, text: str) -> bool:
    """Whether an input shows exactly `text`: a bordered one (`▊ text ▎`) or a
    compact one in the login box (`│  text  │`)."""
    return re.search(rf"[│▊]\s+{re.escape(text)}\s+[│▎]", screen) is not None


def test_log_in_open_an_app_and_save_a_dockerfile_in_a_real_terminal(
    tmux: Tmux, server: ServerProcess, tmp_path: Path
) -> None:
    project = server.graphql(CREATE_PROJECT, {"n": "shop"})["createProject"]
    assert project["__typename"] == "ProjectSuccess", project
    app = server.graphql(
        CREATE_APP,
        {"p": project["project"]["id"], "n": "web", "s": SOURCE},
    )["createApp"]
    assert app["__typename"] == "AppSuccess", app

    home = tmp_path / "home"
    home.mkdir()
    tmux.start(
        [HOME_IDP, "tui", "--server", server.base_url],
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
        },
    )

    # No remembered session: the login screen, its username input focused.
    tmux.wait_for_text("Username", 30)
    tmux.type("root")
    tmux.wait_until(lambda screen: field_shows(screen, "root"), "the username typed")
    # Keys sent right behind a Tab reach the widget that had focus before it
    # (Textual moves focus after the keys already read), so wait for the
    # caret (the terminal's hidden cursor) to move to the password input.
    username_at = tmux.cursor()
    tmux.send_keys("Tab")
    tmux.wait_until(lambda _: tmux.cursor()[1] > username_at[1], "the password input's focus")
    tmux.type(ADMIN_PASSWORD)
    tmux.wait_until(
        lambda screen: field_shows(screen, "•" * len(ADMIN_PASSWORD)), "the password typed"
    )
    tmux.send_keys("Enter")

    # The dashboard: the sidebar tree has focus, with no row highlighted yet;
    # Down twice highlights shop, then web, and enter opens the app.
    tmux.wait_for_text("root @ http://127.0.0.1")
    tmux.wait_until(lambda screen: "shop" in screen and "web" in screen, "shop and web")
    tmux.send_keys("Down", "Down", "Enter")
    tmux.wait_for_text("shop / web")
    tmux.wait_for_text("Dockerfile  Releases  Settings")

    # Opening an app puts the focus in its editor: its ctrl+s shows in the footer.
    tmux.wait_for_text("^s Save")

    # Alt and a digit, as tmux sends it (ESC, then the digit), opens a tab and
    # types nothing, even from the editor; the tab stays open.
    tmux.send_keys("M-2")
    tmux.wait_for_text("Source commit")
    # The Settings tab opens with its first field focused (scrolled into view even
    # when a note about the unreachable source comes above it).
    tmux.send_keys("M-3")
    tmux.wait_until(lambda screen: field_shows(screen, SOURCE), "the Settings tab")
    time.sleep(0.6)
    screen = tmux.capture()
    assert field_shows(screen, SOURCE), screen
    tmux.send_keys("M-1")
    tmux.wait_for_text("^s Save")

    marker = uuid.uuid4().hex[:12]
    lines = ["FROM busybox", f"RUN echo typed-in-tmux-{marker}"]
    for line in lines:
        tmux.type(line)
        tmux.send_keys("Enter")
    dockerfile = "\n".join(lines) + "\n"
    screen = tmux.wait_for_text(f"2  RUN echo typed-in-tmux-{marker}")
    assert "1  FROM busybox" in screen

    editor_at = tmux.cursor()
    tmux.send_keys("C-s")
    tmux.wait_for_text("What changed?")
    tmux.wait_until(lambda _: tmux.cursor() != editor_at, "the message input's focus")
    message = f"typed in tmux {marker}"
    tmux.type(message)
    tmux.wait_until(lambda screen: field_shows(screen, message), "the message typed")
    tmux.send_keys("Enter")

    # The release screen opens on the new release and lists its steps.
    tmux.wait_for_text("shop / web — release #1", 20)
    tmux.wait_until(
        lambda screen: all(re.search(rf"^ {step} ", screen, re.M) for step in STEPS),
        "the release's steps",
    )
    tmux.wait_for_text("Saved v1")

    node = server.graphql(SAVED, {"id": app["app"]["id"]})["node"]
    versions = [edge["node"] for edge in node["dockerfileVersions"]["edges"]]
    assert versions == [
        {"number": 1, "content": dockerfile, "message": message, "author": "root"}
    ], versions
    releases = [edge["node"] for edge in node["releases"]["edges"]]
    assert releases == [{"number": 1, "dockerfileVersion": {"number": 1}}], releases
