"""Types built from rows the request's DataLoaders fetch, and the one way to follow a
link to one: None when the link is unset, or its target gone or out of the caller's reach."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Self, get_args, get_origin
from uuid import UUID

from strawberry.dataloader import DataLoader
from strawberry.types.lazy_type import StrawberryLazyReference

from graphql_schema.context import Info

if TYPE_CHECKING:
    from graphql_schema.dataloaders import Loaders


class Loaded:
    """A type whose objects are made ``from_model`` of rows its ``loader`` fetches by id."""

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, Any]:
        """The request's loader of this type's rows by id."""
        raise NotImplementedError

    @classmethod
    def from_model(cls, row: Any) -> Self:
        raise NotImplementedError

    @classmethod
    async def linked(cls, info: Info, id: UUID | None) -> Self | None:
        """The object an optional link names, batched with the others of the request."""
        if id is None:
            return None
        row = await cls.loader(info.context.loaders).load(id)
        return None if row is None else cls.from_model(row)

    @classmethod
    async def linked_each(cls, loaders: Loaders, ids: Sequence[UUID | None]) -> list[Self | None]:
        """``linked`` for many links at once (a relation's batch form), in their order."""
        wanted = [id for id in ids if id is not None]
        rows = dict(zip(wanted, await cls.loader(loaders).load_many(wanted), strict=True))
        return [None if id is None or rows[id] is None else cls.from_model(rows[id]) for id in ids]

    @classmethod
    async def linked_many(cls, info: Info, ids: Iterable[UUID]) -> list[Self]:
        """The objects a list of links names that are still there, in the list's order."""
        rows = await cls.loader(info.context.loaders).load_many(ids)
        return [cls.from_model(row) for row in rows if row is not None]


def lazy_type(annotation: object) -> Any:
    """The class an ``Annotated["Name", strawberry.lazy("module")]`` alias names.

    For a resolver that builds an object of a type whose module imports its own: the
    module is imported on first use, as strawberry does to read the annotation.
    """
    assert get_origin(annotation) is Annotated, annotation
    name, *metadata = get_args(annotation)
    reference = next(m for m in metadata if isinstance(m, StrawberryLazyReference))
    return reference.resolve_forward_ref(name).resolve_type()
