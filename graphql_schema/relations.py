"""How a resolver field reaches its children, written once for both ways of executing.

A *relation* is the batch form of a field's resolver: given the loaders and a list of
parent objects (the strawberry objects the field is resolved on), it returns one value
per parent, exactly what the resolver returns for that parent. The resolver itself
calls the relation with ``[self]``, so ordinary execution and the planned execution of
``graphql_schema.engine`` read a field the same way: same loaders (same tenant-scoped
sessions, same priming), same ``from_model``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from graphql_schema.dataloaders import Loaders

Relation = Callable[["Loaders", list[Any]], Awaitable[list[Any]]]

# (GraphQL type name, GraphQL field name) -> its relation.
RELATIONS: dict[tuple[str, str], Relation] = {}

R = TypeVar("R", bound=Callable[..., Awaitable[list[Any]]])


def relation(*fields: tuple[str, str]) -> Callable[[R], R]:
    """Register ``function`` as the batch form of the resolvers of ``fields``."""

    def register(function: R) -> R:
        for key in fields:
            if key in RELATIONS and RELATIONS[key] is not function:
                raise ValueError(f"{key} has a relation already")
            RELATIONS[key] = function
        return function

    return register
