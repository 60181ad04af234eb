"""A program in a detached tmux session on a private socket: type keys, read the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["Tmux", "tmux_binary"]


def tmux_binary() -> str:
    """tmux's path; a skip outside CI when it is missing, a failure under CI=true."""
    tmux = shutil.which("tmux")
    if tmux is None:
        message = "tmux is not installed (apt-get install tmux)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return tmux


@dataclass
class Tmux:
    """One session named `tui` on its own tmux server (`tmux -L <socket>`)."""

    binary: str
    socket: str = field(default_factory=lambda: f"home-idp-test-{uuid.uuid4().hex[:12]}")
    session: str = "tui"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Without TMUX, a test run inside tmux still talks to its private server only.
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        env["LC_ALL"] = "C.UTF-8"  # capture-pane writes the cells as UTF-8
        return subprocess.run(
            [self.binary, "-L", self.socket, "-f", "/dev/null", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def start(
        self, argv: list[str], env: Mapping[str, str], width: int = 120, height: int = 36
    ) -> None:
        """Run `argv` with exactly `env` in a `width`x`height` pane.

        The pane stays after the program exits (remain-on-exit), so a crash's
        traceback is still there for `capture()`.
        """
        command = shlex.join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv])
        self.run(
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-x",
            str(width),
            "-y",
            str(height),
            "-s",
            self.session,
            command,
        )

    def kill(self) -> None:
        """Stop the tmux server and with it the program (SIGHUP); remove its socket."""
        shown = self.run("display-message", "-p", "#{socket_path}", check=False)
        self.run("kill-server", check=False)
        # tmux leaves the socket file behind (in /tmp/tmux-<uid>/).
        if shown.returncode == 0 and shown.stdout.strip():
            Path(shown.stdout.strip()).unlink(missing_ok=True)

    def send_keys(self, *keys: str) -> None:
        """tmux key names: "Enter", "Tab", "Down", "C-s", "F7"…"""
        self.run("send-keys", "-t", self.session, "--", *keys)

    def type(self, text: str) -> None:
        """Literal text, as if typed (no key names)."""
        self.run("send-keys", "-t", self.session, "-l", "--", text)

    def cursor(self) -> tuple[int, int]:
        """Where the terminal's cursor is (column, row): Textual keeps it, hidden, at
        the focused input's caret."""
        shown = self.run("display-message", "-p", "-t", self.session, "#{cursor_x} #{cursor_y}")
        x, y = shown.stdout.split()
        return int(x), int(y)

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session).stdout

    def wait_until(self, check: Callable[[str], object], what: str, seconds: float = 15.0) -> str:
        """Poll the screen every 0.1 s until `check(screen)` is true; return that screen."""
        deadline = time.monotonic() + seconds
        while True:
            screen = self.capture()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {seconds} s waiting for {what}; the screen:\n{screen}"
                )
            time.sleep(0.1)

    def wait_for_text(self, text: str, seconds: float = 15.0) -> str:
        """Poll the screen until `text` shows; return that screen."""
        return self.wait_until(lambda screen: text in screen, repr(text), seconds)
