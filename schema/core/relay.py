"""Relay connections with a maximum page size, and global id decoding."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.permission import BasePermission
from tortoise.models import Model
from tortoise.queryset import QuerySet

from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import FromRow
from home_idp.server.errors import ValidationFailed

__all__ = [
    "Connection",
    "Edge",
    "PageInfo",
    "PageSizeLimit",
    "VisibleNode",
    "connection",
    "connection_from_list",
    "connection_from_queryset",
    "decode_cursor",
    "decode_id",
    "encode_cursor",
    "list_window",
    "page",
]

NodeT = TypeVar("NodeT")
T = TypeVar("T")
M = TypeVar("M", bound=Model)
_CURSOR_PREFIX = "cursor:"
# Object ids are 32-bit integer columns; a larger number names nothing, and
# handing it to the database would fail there rather than say so here.
MAX_OBJECT_ID = 2**31 - 1


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type(description="A page of a list; ask for the next one with `after: endCursor`.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds.")
    async def total_count(self) -> int:
        return await self.count()


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_CURSOR_PREFIX):
            return int(text.removeprefix(_CURSOR_PREFIX))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise GraphQLError("invalid cursor", extensions={"code": "BAD_USER_INPUT"})


def _check_page_size(first: int, maximum: int) -> None:
    if not 1 <= first <= maximum:
        raise GraphQLError(
            f"first must be between 1 and {maximum}", extensions={"code": "BAD_USER_INPUT"}
        )


class PageSizeLimit(FieldExtension):
    """Refuses a `first` outside 1 to the configured maximum before the resolver runs
    (after the field's permission classes, which Strawberry runs first)."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        _check_page_size(kwargs["first"], info.context.max_page_size)
        return await next_(source, info, **kwargs)


def connection(*, description: str, permission_classes: Sequence[type[BasePermission]] = ()) -> Any:
    """A field that answers a `Connection` page; its `first` argument is bounded."""
    return strawberry.field(
        description=description,
        permission_classes=list(permission_classes),
        extensions=[PageSizeLimit()],
    )


def page(
    edges: list[Edge[NodeT]], *, has_next_page: bool, count: Callable[[], Awaitable[int]]
) -> Connection[NodeT]:
    """A connection of `edges`; `count` is awaited only when `totalCount` is asked for."""
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
        count=count,
    )


async def connection_from_queryset(
    query: QuerySet[M],
    first: int,
    after: str | None,
    to_node: Callable[[M], NodeT],
    *,
    newest_first: bool = False,
) -> Connection[NodeT]:
    """Keyset pagination on the primary key: stable while rows are added."""
    after_id = decode_cursor(after)
    rest = query
    if after_id is not None:
        rest = rest.filter(id__lt=after_id) if newest_first else rest.filter(id__gt=after_id)
    rows = await rest.order_by("-id" if newest_first else "id").limit(first + 1)
    edges = [Edge(cursor=encode_cursor(row.pk), node=to_node(row)) for row in rows[:first]]
    return page(edges, has_next_page=len(rows) > first, count=query.count)


def list_window(items: Sequence[T], first: int, after: str | None) -> Sequence[T]:
    """The items of the page `connection_from_list` makes for `first` and `after`."""
    start = (decode_cursor(after) or 0) if after else 0
    return items[start : start + first]


def connection_from_list(
    items: Sequence[Any], first: int, after: str | None, to_node: Callable[[Any], NodeT]
) -> Connection[NodeT]:
    """Offset pagination over a list already in memory (e.g. from a DataLoader)."""
    start = (decode_cursor(after) or 0) if after else 0
    window = items[start : start + first]
    edges = [
        Edge(cursor=encode_cursor(start + offset + 1), node=to_node(item))
        for offset, item in enumerate(window)
    ]

    async def count() -> int:
        return len(items)

    return page(edges, has_next_page=start + first < len(items), count=count)


def decode_id(global_id: relay.GlobalID, type_name: str, field: str = "id") -> int:
    """The database id inside a global id, which must name `type_name`."""
    if global_id.type_name != type_name:
        raise ValidationFailed.for_field(field, f"must be the id of a {type_name}")
    node_id = global_id.node_id
    if not _is_object_id(node_id):
        raise ValidationFailed.for_field(field, f"is not a valid {type_name} id")
    return int(node_id)


def _is_object_id(node_id: str) -> bool:
    """Whether `node_id` is a number a database row can have as its id."""
    return node_id.isascii() and node_id.isdigit() and 0 < int(node_id) <= MAX_OBJECT_ID


class VisibleNode(relay.Node, FromRow):
    """A node made from a row of `row_model`, which `node(id:)` answers only to the
    callers `visible_to` lets see that row (null for the others, as for an id that
    does not exist).

    Not a GraphQL type of its own: the types built on it implement `Node`.
    """

    row_model: ClassVar[type[Model]]

    @classmethod
    def node_of(cls, info: Info, row: Any) -> Self:
        """The node of `row`; a type that needs more than the row to make one overrides this."""
        return cls.from_model(row)

    @classmethod
    async def visible_to(cls, info: Info, row: Any) -> bool:
        """Whether the caller may see `row`: each type built on this one says."""
        raise NotImplementedError

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        ids = list(node_ids)
        wanted = [int(i) for i in ids if _is_object_id(i)]
        found = {row.pk: row for row in await cls.row_model.filter(id__in=wanted)}
        result: list[Self | None] = []
        for node_id in ids:
            row = found.get(int(node_id)) if _is_object_id(node_id) else None
            if row is not None and await cls.visible_to(info, row):
                result.append(cls.node_of(info, row))
            else:
                result.append(None)
        return result
