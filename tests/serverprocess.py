"""`home-idp serve` as a real process: start, wait until ready, talk GraphQL, kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.factories import PASSWORD_HASHING_ENV
from tests.liveserver import free_port

__all__ = ["ADMIN_PASSWORD", "HOME_IDP", "ServerProcess", "home_idp_env"]

HOME_IDP = str(Path(sys.executable).parent / "home-idp")
ADMIN_PASSWORD = "a long admin password"


def home_idp_env(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server: only the given HOME_IDP_ settings.

    Unless told otherwise, the registry is on a port of its own: a server in
    the local profile starts one where none answers, and two servers of
    parallel tests must not share (and stop) each other's.
    """
    settings.setdefault("registry__url", f"http://127.0.0.1:{free_port()}")
    # A release ends at its rollout, not a minute's watch later (as in the
    # in-process tests); a test of the watch gives its app a window.
    settings.setdefault("pipeline__stability_seconds", "0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOME_IDP_")}
    env.update(
        PASSWORD_HASHING_ENV,
        HOME=str(data_dir.parent),
        HOME_IDP_DATA_DIR=str(data_dir),
        HOME_IDP_DATABASE_URL=database_url,
        **{f"HOME_IDP_{name.upper()}": value for name, value in settings.items()},
    )
    return env


@dataclass
class ServerProcess:
    """One server process; `start()` again after `kill()` restarts it on the same port."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    token: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_admin(self, username: str = "root") -> None:
        result = subprocess.run(
            [HOME_IDP, "admin", "create", username, "--password-stdin"],
            input=ADMIN_PASSWORD + "\n",
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0 or "taken" in result.stderr, result.stderr

    @property
    def log_path(self) -> Path:
        """The server's output, kept beside its data dir for a failing test to show."""
        return Path(self.env["HOME_IDP_DATA_DIR"]).parent / f"server-{self.port}.log"

    def _spawn(self) -> subprocess.Popen[str]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            return subprocess.Popen(
                [HOME_IDP, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def start(self) -> None:
        self.process = self._spawn()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, (
                f"the server exited during start-up:\n{self.log_path.read_text()[-3000:]}"
            )
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)

    def start_refused(self, timeout: float = 60) -> tuple[int, str]:
        """Start a server that is expected to refuse: its exit code and its output."""
        process = self._spawn()
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
            raise AssertionError(
                f"the server started instead of refusing:\n{self.log_path.read_text()[-3000:]}"
            ) from None
        return returncode, self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def login(self, username: str = "root") -> str:
        data = self.graphql(
            "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) "
            "{ __typename ... on Tokens { accessToken } } }",
            {"u": username, "p": ADMIN_PASSWORD},
        )
        self.token = data["login"]["accessToken"]
        return self.token

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body = response.json()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data
