"""The ASGI application: `create_app(settings)`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route, WebSocketRoute

from home_idp.schema.schema import build_schema
from home_idp.server import db
from home_idp.server.deploy.app_addresses import live_release_url
from home_idp.server.gateway import health
from home_idp.server.gateway.app_proxy import AppProxy
from home_idp.server.gateway.auth import BearerAuthBackend, auth_error_response
from home_idp.server.gateway.git_http import git_routes
from home_idp.server.gateway.graphql import GraphQLApp
from home_idp.server.gateway.limits import BodySizeLimit
from home_idp.server.gateway.otlp import otlp_routes
from home_idp.server.gateway.webhooks import webhook_routes
from home_idp.server.install.local_registry import start_local_registry
from home_idp.server.rbac.roles import ensure_builtin_roles
from home_idp.server.runtime import PluginOverrides, Runtime
from home_idp.server.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, plugins: PluginOverrides | None = None
) -> Starlette:
    """Build the gateway. The database is opened (and migrated) by the lifespan.

    `plugins` replaces plugins the settings name with given instances.
    """
    settings = settings or Settings()
    runtime = Runtime.build(settings, plugins)
    graphql = GraphQLApp(build_schema(settings.graphql), runtime)
    addresses = runtime.deploy.app_addresses
    # Apps answer slowly at times (a long request, a big download): no read deadline.
    app_client = (
        httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=5), trust_env=False, follow_redirects=False
        )
        if addresses is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        await db.open_database(settings)
        await ensure_builtin_roles()
        await runtime.trace.start()
        await runtime.deploy.start()
        await runtime.install.start()
        # Local profile: builds push to a registry on this machine, started here
        # when none answers, and stopped with the installer below.
        application.state.local_registry = await start_local_registry(settings, runtime.install)
        log.info("home-idp ready (profile %s) on %s", settings.profile, settings.base_url)
        try:
            yield
        finally:
            await runtime.install.stop()
            await runtime.deploy.stop()
            # After the engine: the spans of its last steps are stored too.
            await runtime.trace.stop()
            if app_client is not None:
                await app_client.aclose()
            await db.close()

    app = Starlette(
        routes=[
            *health.routes,
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *webhook_routes(
                runtime.deploy.webhooks,
                runtime.deploy.registry_webhooks,
                runtime.deploy.source_webhooks,
            ),
            *otlp_routes(runtime.trace),
            # The local platform repo is served by home-idp itself.
            *(
                git_routes(
                    settings.data_dir / "git",
                    runtime.rbac.authenticator,
                    is_read_token=runtime.deploy.read_tokens.verify,
                )
                if settings.git.plugin == "local"
                else []
            ),
        ],
        middleware=[
            # First: an app's own requests are none of the gateway's business.
            *(
                [
                    Middleware(
                        AppProxy, addresses=addresses, live_url=live_release_url, client=app_client
                    )
                ]
                if addresses is not None and app_client is not None
                else []
            ),
            Middleware(
                BodySizeLimit,
                max_bytes=settings.graphql.max_body_bytes,
                exempt_prefixes=("/webhooks/", "/git/", "/v1/"),
                anonymous_max_bytes=settings.graphql.anonymous.max_body_bytes,
            ),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerAuthBackend(runtime.rbac.authenticator),
                on_error=auth_error_response,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
