"""The app of the fast tier: the whole server on the fakes, in this process, no component started."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from home_idp.server.runtime import Runtime
from tests.fakes import FakePlugins

__all__ = ["FAKE_REGISTRY_URL", "FakeServer"]

# A host no test serves: a plugin that reached past the fakes would fail.
FAKE_REGISTRY_URL = "http://registry.fake.test:5000"


@dataclass(frozen=True)
class FakeServer:
    """The running app, its fakes, and a client that speaks to it without a port."""

    app: Starlette
    plugins: FakePlugins
    http: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime
