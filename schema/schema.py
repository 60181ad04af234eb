"""The root schema: joins the Query, Mutation and Subscription of every domain."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

from home_idp.schema.access import AccessMutation, AccessQuery, AccessSubscription, AuthMutation
from home_idp.schema.apps import AppMutation, AppQuery
from home_idp.schema.core.context import Info
from home_idp.schema.core.limits import security_extensions
from home_idp.schema.install import InstallMutation, InstallQuery, InstallSubscription
from home_idp.schema.releases import ReleaseMutation, ReleaseQuery, ReleaseSubscription
from home_idp.schema.traces import TraceQuery, TraceSubscription
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


# Each domain's fields in the order of the domains: the exported SDL keeps its order.
@strawberry.type
class Query(NodeQuery, AccessQuery, AppQuery, ReleaseQuery, TraceQuery, InstallQuery):
    pass


@strawberry.type
class Mutation(AuthMutation, AccessMutation, AppMutation, ReleaseMutation, InstallMutation):
    pass


@strawberry.type
class Subscription(AccessSubscription, ReleaseSubscription, TraceSubscription, InstallSubscription):
    pass


class CachedNameConverter(NameConverter):
    """Strawberry converts argument names to camelCase on every resolver call;
    the answer never changes, and the conversion was a tenth of a list query's CPU
    (tests/bench/api.py)."""

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
