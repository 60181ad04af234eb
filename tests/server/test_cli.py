"""The `home-idp` command, run as a user would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.liveserver import free_port

HOME_IDP = str(Path(sys.executable).parent / "home-idp")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No HOME_IDP_ settings at all; HOME points at a fresh directory."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOME_IDP_")}
    clean["HOME"] = str(tmp_path)
    return clean


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOME_IDP, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_and_schema_export(env: dict[str, str]) -> None:
    version = run(env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("home-idp ")
    exported = run(env, "schema", "export")
    assert exported.returncode == 0
    sdl = (Path(__file__).resolve().parents[2] / "schema" / "schema.graphql").read_text()
    assert exported.stdout == sdl


def test_admin_create_reads_the_password_from_stdin(env: dict[str, str], tmp_path: Path) -> None:
    created = run(
        env, "admin", "create", "root", "--password-stdin", stdin="a long admin password\n"
    )
    assert created.returncode == 0, created.stderr
    assert (tmp_path / ".local/share/home-idp/home-idp.sqlite3").exists()
    again = run(env, "admin", "create", "root", "--password-stdin", stdin="a long admin password\n")
    assert again.returncode == 1 and "taken" in again.stderr
    weak = run(env, "admin", "create", "other", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least" in weak.stderr
    bad_name = run(
        env, "admin", "create", "../root", "--password-stdin", stdin="a long admin password\n"
    )
    assert bad_name.returncode == 1 and "username" in bad_name.stderr


def test_there_is_no_default_password(env: dict[str, str]) -> None:
    # No terminal and no --password-stdin: refuse rather than invent a password.
    result = run(env, "admin", "create", "root", stdin="")
    assert result.returncode != 0
    assert "--password-stdin" in result.stderr
    empty = run(env, "admin", "create", "root", "--password-stdin", stdin="")
    assert empty.returncode != 0


def test_serve_runs_on_embedded_defaults_and_logs_in(env: dict[str, str]) -> None:
    assert (
        run(
            env, "admin", "create", "root", "--password-stdin", stdin="a long admin password\n"
        ).returncode
        == 0
    )
    port = free_port()
    server = subprocess.Popen(
        [HOME_IDP, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            if server.poll() is not None:
                raise AssertionError(f"server exited:\n{server.communicate()[0][-3000:]}")
            time.sleep(0.1)
        login = httpx.post(
            f"{base}/graphql",
            json={
                "query": 'mutation { login(input: {username: "root", password: "a long admin password"}) '
                "{ ... on Tokens { accessToken } } }"
            },
        ).json()
        token = login["data"]["login"]["accessToken"]
        me = httpx.post(
            f"{base}/graphql",
            json={"query": "{ me { username isAdmin } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert me == {"data": {"me": {"username": "root", "isAdmin": True}}}
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises SIGTERM as its exit status.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in output
    assert "a long admin password" not in output
    assert token not in output
