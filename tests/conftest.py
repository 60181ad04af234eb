"""Shared fixtures: one migrated app per session, a clean database per test.

The app runs on the real components (buildah, the registry, podman, a git
server) when the session holds a `system` test, and on in-memory fakes of the
plugins otherwise: `pytest -m "not system"` is the fast tier. A test that asks
for the real components (`build_components`) is a `system` test by that alone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from tortoise import Tortoise
from tortoise.connection import get_connection

from home_idp.server.app import create_app
from home_idp.server.rbac.models import Policy, Role
from home_idp.server.rbac.roles import ensure_builtin_roles
from home_idp.server.runtime import Runtime
from home_idp.server.settings import (
    BuilderSettings,
    DeployerSettings,
    PipelineSettings,
    RegistrySettings,
    Settings,
    SourceSettings,
)
from tests.components import (
    REGISTRY_URL,
    REGISTRY_WEBHOOK_SECRET,
    BuildComponents,
    remove_app_containers,
    start_build_components,
)
from tests.database import BACKEND, scratch_database
from tests.factories import PASSWORD_HASHING_ENV, Factory
from tests.fakes import FakePlugins
from tests.fakes.server import FAKE_REGISTRY_URL
from tests.graphql import GraphQLClient
from tests.liveserver import free_port

# Every server of the tests hashes passwords at argon2's least cost, the
# in-process ones too (tests.factories.PASSWORD_HASHING says why).
for _name, _value in PASSWORD_HASHING_ENV.items():
    os.environ.setdefault(_name, _value)
# The dashboard redraws at most 20 times a second instead of 60 (read by
# Textual when it is first imported, which is after this): the tests wait for
# what the screen shows, not for frames, and drawing is most of their CPU time.
os.environ.setdefault("TEXTUAL_FPS", "20")

# Fixtures that start real components: a test that uses one is a `system` test.
SYSTEM_FIXTURES = frozenset({"build_components"})
# The dashboard's tests: a client of the API, whose own tests run on every database.
DASHBOARD_TESTS = Path(__file__).parent / "tui"


def pytest_report_header() -> str:
    return f"home-idp test database: {BACKEND}"


def _runs_system_tests(session: pytest.Session) -> bool:
    return any(item.get_closest_marker("system") for item in session.items)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
async def database_url(data_dir: Path) -> AsyncIterator[str]:
    async with scratch_database(data_dir) as url:
        yield url


@pytest.fixture(scope="session")
def app_port() -> int:
    """Where the live-server tests serve the app, so webhooks of the platform
    repo's hook and of the registry reach it."""
    return free_port()


@pytest.fixture(scope="session")
def build_components(
    tmp_path_factory: pytest.TempPathFactory, app_port: int
) -> Iterator[BuildComponents]:
    components = start_build_components(
        tmp_path_factory.mktemp("components"),
        f"http://127.0.0.1:{app_port}/webhooks/registry",
    )
    yield components
    components.stop()


@pytest.fixture(scope="session")
def real_components(request: pytest.FixtureRequest) -> bool:
    """Whether the session's app runs on the real components (a `system` test is in it)."""
    return _runs_system_tests(request.session)


# Polling would start releases in whichever test is running when it comes round:
# the tests of polling call it themselves (SourcePoller.poll_once).
NO_POLLING = SourceSettings(poll_seconds=0)

# The engine is tuned to react within a second.
PIPELINE = PipelineSettings(
    poll_interval_seconds=0.2,
    reconcile_interval_seconds=0.5,
    rollout_poll_seconds=0.2,
    # A release whose health check never passes fails this soon.
    rollout_timeout_seconds=15,
    # No watch after the rollout, unless a test gives its app a window of its own.
    stability_seconds=0,
    retry_backoff_seconds=0.2,
    retry_backoff_max_seconds=1,
)


@pytest.fixture(scope="session")
def settings(
    request: pytest.FixtureRequest,
    data_dir: Path,
    database_url: str,
    app_port: int,
    real_components: bool,
) -> Settings:
    if not real_components:
        return Settings(
            data_dir=data_dir,
            database_url=database_url,
            port=app_port,
            registry=RegistrySettings(
                url=FAKE_REGISTRY_URL, webhook_secret=SecretStr(REGISTRY_WEBHOOK_SECRET)
            ),
            pipeline=PIPELINE,
            sources=NO_POLLING,
        )
    build_components: BuildComponents = request.getfixturevalue("build_components")
    root = build_components.buildah_root
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        port=app_port,
        registry=RegistrySettings(
            url=REGISTRY_URL, webhook_secret=SecretStr(REGISTRY_WEBHOOK_SECRET)
        ),
        builder=BuilderSettings(
            options={"root": SecretStr(str(root / "root")), "runroot": SecretStr(str(root / "run"))}
        ),
        # The container deployer keeps its storage in the data dir (its default).
        deployer=DeployerSettings(),
        pipeline=PIPELINE,
        sources=NO_POLLING,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings, real_components: bool) -> AsyncIterator[Starlette]:
    if real_components:
        application = create_app(settings)
    else:
        fakes = FakePlugins.from_settings(settings)
        application = create_app(settings, plugins=fakes.overrides())
        fakes.deliver_to(application)
        application.state.fakes = fakes
    async with application.router.lifespan_context(application):
        yield application
    await remove_app_containers(settings.data_dir)


@pytest.fixture(autouse=True)
async def leave_no_containers(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Server processes of a test keep their data (and containers) in its tmp_path."""
    tmp_path: Path | None = (
        request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    )
    yield
    if tmp_path is not None:
        for data_dir in await asyncio.to_thread(lambda: list(tmp_path.glob("*/"))):
            await remove_app_containers(data_dir)


@pytest.fixture(scope="session")
def runtime(app: Starlette) -> Runtime:
    result: Runtime = app.state.runtime
    return result


async def _empty_all_tables() -> None:
    # DELETE, not TRUNCATE, on Postgres too: on a few small tables it takes a
    # few milliseconds where TRUNCATE's new files take a hundred times as long.
    # The models' order deletes rows before the rows they point at (or cascades).
    tables = [model._meta.db_table for model in Tortoise.apps["home_idp"].values()]
    await get_connection("default").execute_script(
        "".join(f'DELETE FROM "{table}";' for table in tables)
    )


def _copies(rows: list[Any]) -> list[Any]:
    """Unsaved copies of `rows`, ids included, to insert again."""
    return [
        type(row)(**{name: getattr(row, name) for name in row._meta.fields_db_projection})
        for row in rows
    ]


# The built-in roles and their policies, as `ensure_builtin_roles` first made
# them in this process's database.
_seeded_rows: list[list[Any]] = []


async def _put_back_the_seed() -> None:
    if not _seeded_rows:
        await ensure_builtin_roles()
        _seeded_rows.extend([await Role.all(), await Policy.all()])
        return
    for rows in _seeded_rows:
        await type(rows[0]).bulk_create(_copies(rows))


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test that touches the app starts from an empty, seeded database.

    The seed is put back as rows (two inserts) rather than made again by
    `ensure_builtin_roles`, which reads and compares every role's rules: a
    few milliseconds instead of twenty, on each of some two thousand tests.
    """
    if not _uses_the_app(request.node):
        yield
        return
    await _empty_all_tables()
    await _put_back_the_seed()
    # The fakes' source repositories too: a branch an earlier test pushed would
    # make another test's ref look missing.
    application: Starlette = request.getfixturevalue("app")
    if fakes := getattr(application.state, "fakes", None):
        fakes.source.forget()
    yield


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://home-idp.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@pytest.fixture
def factory(runtime: Runtime) -> Factory:
    return Factory(runtime)


def _uses_the_app(item: Any) -> bool:
    """Whether a test uses the `app` fixture (not a parameter that happens to be named so)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "app" in callspec.params:
        return False
    return "app" in getattr(item, "fixturenames", [])


def _database_dependent(item: Any) -> bool:
    """Whether a test's outcome can depend on the database: it runs on the app, or
    starts servers on a database of its own (`tests.database`)."""
    if DASHBOARD_TESTS in Path(item.path).parents:
        return False
    module = getattr(item, "module", None)
    return (
        _uses_the_app(item)
        or "database_url" in getattr(item, "fixturenames", ())
        or hasattr(module, "scratch_database")
        or hasattr(module, "scratch_postgres_database")
    )


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if SYSTEM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.system)
        if _database_dependent(item):
            item.add_marker(pytest.mark.database)
    # Tests that need the app get the clean-database fixture first.
    for item in items:
        fixturenames = getattr(item, "fixturenames", [])
        if _uses_the_app(item) and "clean_database" in fixturenames:
            fixturenames.remove("clean_database")
            fixturenames.insert(fixturenames.index("app") + 1, "clean_database")
