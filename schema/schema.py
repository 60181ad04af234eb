"""The root schema: joins the Query, Mutation and Subscription of every domain."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

from home_idp.schema.api_tokens import ApiTokenMutation, ApiTokenQuery
from home_idp.schema.app_config import AppConfigMutation
from home_idp.schema.app_runtime import (
    AppRuntimeMutation,
    AppRuntimeQuery,
    AppRuntimeSubscription,
)
from home_idp.schema.apps import AppMutation, AppQuery
from home_idp.schema.audit import AuditQuery, AuditSubscription
from home_idp.schema.auth import AuthMutation, AuthQuery
from home_idp.schema.build_logs import BuildLogQuery, BuildLogSubscription
from home_idp.schema.context import Info
from home_idp.schema.install import InstallMutation, InstallQuery, InstallSubscription
from home_idp.schema.limits import security_extensions
from home_idp.schema.projects import ProjectMutation, ProjectQuery
from home_idp.schema.releases import ReleaseMutation, ReleaseQuery, ReleaseSubscription
from home_idp.schema.roles import RoleMutation, RoleQuery
from home_idp.schema.sessions import SessionMutation, SessionQuery
from home_idp.schema.source_credentials import SourceCredentialMutation
from home_idp.schema.traces import TraceQuery, TraceSubscription
from home_idp.schema.users import UserMutation, UserQuery
from home_idp.schema.webhooks import WebhookMutation, WebhookQuery
from home_idp.server.settings import GraphQLLimits

__all__ = ["build_schema"]


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null if not visible to you.")
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        # A plain resolver rather than relay.node(), whose field extension
        # cannot be shared by two schemas (tests and the CLI build several).
        node: relay.Node | None = await id.resolve_node(info, required=False)
        return node


@strawberry.type
class Query(
    NodeQuery,
    AuthQuery,
    ProjectQuery,
    UserQuery,
    RoleQuery,
    ApiTokenQuery,
    SessionQuery,
    AuditQuery,
    AppQuery,
    AppRuntimeQuery,
    WebhookQuery,
    BuildLogQuery,
    ReleaseQuery,
    TraceQuery,
    InstallQuery,
):
    pass


@strawberry.type
class Mutation(
    AuthMutation,
    ProjectMutation,
    UserMutation,
    RoleMutation,
    ApiTokenMutation,
    SessionMutation,
    AppMutation,
    SourceCredentialMutation,
    AppConfigMutation,
    AppRuntimeMutation,
    ReleaseMutation,
    WebhookMutation,
    InstallMutation,
):
    pass


@strawberry.type
class Subscription(
    AuditSubscription,
    ReleaseSubscription,
    BuildLogSubscription,
    AppRuntimeSubscription,
    TraceSubscription,
    InstallSubscription,
):
    pass


class CachedNameConverter(NameConverter):
    """Strawberry converts argument names to camelCase on every resolver call;
    the answer never changes, and the conversion was a tenth of a list query's CPU."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._converted: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._converted.get(name)
        if converted is None:
            converted = self._converted[name] = super().apply_naming_config(name)
        return converted


def build_schema(limits: GraphQLLimits | None = None) -> strawberry.Schema:
    limits = limits or GraphQLLimits()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=security_extensions(limits),
        config=StrawberryConfig(
            relay_max_results=limits.max_page_size, name_converter=CachedNameConverter()
        ),
    )
