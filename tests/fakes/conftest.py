"""The fast tier's whole server on the fakes, for the tests of this folder."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.fakes.server import FakeServer

# What the real plugins run; the Dockerfile linter (hadolint) is no plugin's.
PLUGIN_PROGRAMS = {"buildah", "podman", "runc", "docker-registry", "registry", "git", "helm"}


@pytest.fixture
def no_plugin_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything starts a program that a real plugin runs."""
    popen, create_exec = subprocess.Popen, asyncio.create_subprocess_exec

    def check(program: object) -> None:
        name = Path(str(program[0] if isinstance(program, list) else program)).name
        assert name not in PLUGIN_PROGRAMS, f"{name} was started on the fakes"

    def checked_popen(args: Any, *rest: Any, **kwargs: Any) -> Any:
        check(args)
        return popen(args, *rest, **kwargs)

    async def checked_exec(program: str, *args: Any, **kwargs: Any) -> Any:
        check(program)
        return await create_exec(program, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", checked_popen)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", checked_exec)


@pytest.fixture
def server(
    app: Starlette, http: httpx.AsyncClient, real_components: bool, no_plugin_processes: None
) -> FakeServer:
    """The session's app, which runs on the fakes in the fast tier."""
    if real_components:
        pytest.skip("the session's app runs on the real components (a system test is in it)")
    fakes = app.state.fakes
    fakes.source.forget()
    return FakeServer(app, fakes, http)
