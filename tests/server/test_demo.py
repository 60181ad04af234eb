"""`home-idp demo --headless`: the whole local flow from one command, as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.liveserver import free_port
from tests.serverprocess import HOME_IDP, home_idp_env

# Real components: the system tier.
pytestmark = pytest.mark.system


def test_the_demo_releases_an_app_and_prints_where_it_answers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = home_idp_env(
        data,
        f"sqlite://{tmp_path / 'home-idp.sqlite3'}",
        port=str(free_port()),
        registry__url=f"http://127.0.0.1:{free_port()}",
    )
    first = subprocess.run(
        [HOME_IDP, "demo", "--headless"], env=env, capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.strip().splitlines()
    assert any(line.startswith("  admin      demo / ") for line in lines), lines
    for step in ("commit", "build", "manifests", "sync", "rollout", "verify"):
        assert any(line.split()[:1] == [step] and line.endswith("ok") for line in lines), lines
    url = lines[-1]
    assert url.startswith("http://127.0.0.1:")
    # The app keeps answering after the demo has exited.
    assert "hello from home-idp" in httpx.get(url, timeout=5).text

    # Run again: the next release of the same app; the password is not shown again.
    again = subprocess.run(
        [HOME_IDP, "demo", "--headless"], env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "release #2 of demo/hello" in again.stdout
    assert " / " not in next(line for line in again.stdout.splitlines() if "admin" in line)
    assert "hello from home-idp" in httpx.get(again.stdout.strip().splitlines()[-1], timeout=5).text
