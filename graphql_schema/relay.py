"""Relay plumbing: opaque global ids, `node(id)`, cursor connections with totalCount."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.types.base import StrawberryObjectDefinition

from backend.db.pagination import Page
from backend.errors import NotFound, ValidationFailed
from graphql_schema.context import Info
from graphql_schema.loaded import Loaded

NodeT = TypeVar("NodeT")
M = TypeVar("M")


@strawberry.type(description="An edge in a connection.")
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type(description="A page of results, Relay-style.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(description="All matches, not only this page.")

    @classmethod
    def from_page(cls, page: Page[M], convert: Callable[[M], NodeT]) -> Connection[NodeT]:
        return cls(
            edges=[
                Edge(cursor=cursor, node=convert(item))
                for item, cursor in zip(page.items, page.cursors, strict=True)
            ],
            page_info=relay.PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.start_cursor,
                end_cursor=page.end_cursor,
            ),
            total_count=page.total_count,
        )


def decode_global_id(value: str) -> tuple[str, UUID] | None:
    """(type name, uuid) for a well-formed id, None for anything else."""
    try:
        global_id = relay.GlobalID.from_id(value)
        return global_id.type_name, UUID(global_id.node_id)
    except (ValueError, TypeError):
        return None


def parse_id(value: str, type_name: str, *, field: str) -> UUID:
    """The uuid inside a global id of ``type_name``; a located error otherwise.

    An id of another type is reported as NOT_FOUND, like an id that does not
    exist: the caller learns nothing from guessing.
    """
    decoded = decode_global_id(value)
    if decoded is None:
        raise ValidationFailed(f"Not a valid {type_name} id.", field=field)
    kind, uuid = decoded
    if kind != type_name:
        raise NotFound(type_name, field=field)
    return uuid


def parse_uuids(node_ids: Iterable[str]) -> list[UUID | None]:
    parsed: list[UUID | None] = []
    for node_id in node_ids:
        try:
            parsed.append(UUID(node_id))
        except ValueError:
            parsed.append(None)
    return parsed


async def resolve_node(info: Info, id: str) -> relay.Node | None:
    decoded = decode_global_id(id)
    if decoded is None:
        return None
    type_name, uuid = decoded
    type_definition = info.schema.get_type_by_name(type_name)
    if not isinstance(type_definition, StrawberryObjectDefinition):
        return None
    origin: Any = type_definition.origin
    concrete = not type_definition.is_interface and origin is not relay.Node
    if not (concrete and isinstance(origin, type) and issubclass(origin, relay.Node)):
        return None
    nodes = origin.resolve_nodes(info=info, node_ids=[str(uuid)], required=False)
    found = list(await nodes if inspect.isawaitable(nodes) else nodes)
    return found[0] if found else None


class LoaderNode(Loaded, relay.Node):
    """A Node fetched by id through its type's DataLoader."""

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # async-only, simpler than the base
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        ids = parse_uuids(node_ids)
        loader = cls.loader(info.context.loaders)
        found = iter(await loader.load_many([i for i in ids if i is not None]))
        nodes: list[Self | None] = []
        for node_id in ids:
            row = next(found) if node_id is not None else None
            nodes.append(None if row is None else cls.from_model(row))
        return nodes
