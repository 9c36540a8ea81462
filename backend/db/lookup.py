"""Rows of any table by id, under the session's tenant binding: the one generic read the
per-domain repositories share (DataLoaders batch through it); and plain rows of
workspace-scoped tables for the hottest reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from sqlalchemy import ColumnElement, Row, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.db.base import WorkspaceScoped
from backend.db.scoping import TenantBinding


class Identified(Protocol):
    @property
    def id(self) -> UUID: ...


R = TypeVar("R", bound=Identified)


async def rows_by_id(session: AsyncSession, model: type[R], ids: Iterable[UUID]) -> Sequence[R]:
    """The rows of ``model`` with these ids that the session's binding lets it see."""
    column = inspect(model).columns["id"]
    return (await session.scalars(select(model).where(column.in_(list(ids))))).all()


W = TypeVar("W", bound=WorkspaceScoped)


_LABELLED: dict[type[Any], tuple[Any, ...]] = {}


def _labelled_columns(model: type[WorkspaceScoped]) -> tuple[Any, ...]:
    """The model's columns, each labelled by its attribute's name (built once a model)."""
    if model not in _LABELLED:
        keys = [attr.key for attr in inspect(model).column_attrs]
        # A Row's own methods (count, index, ...) would shadow a column of that name.
        if shadowed := [key for key in keys if hasattr(Row, key)]:
            raise TypeError(f"{model.__name__} has columns a row cannot show: {shadowed}")
        _LABELLED[model] = tuple(
            attr.columns[0].label(attr.key) for attr in inspect(model).column_attrs
        )
    return _LABELLED[model]


class ScopedRows:
    """Plain rows of workspace-scoped tables on a Core connection, for the hottest reads.

    Building ORM instances is about half the cost of reading a map's touchpoints; these
    rows carry the same attribute names (read-only: nothing is tracked or written back).
    Every read is filtered by the binding's workspaces, as the ORM's criteria filter a
    session's; on Postgres row-level security filters it again.
    """

    def __init__(self, connection: AsyncConnection, binding: TenantBinding) -> None:
        self.connection = connection
        self.binding = binding

    async def select(
        self, model: type[W], *where: ColumnElement[bool], order_by: Sequence[Any] = ()
    ) -> Sequence[W]:
        statement = select(*_labelled_columns(model)).where(*where).order_by(*order_by)
        if self.binding.app_scoping:
            statement = statement.where(model.workspace_id.in_(self.binding.workspace_ids))
        rows = (await self.connection.execute(statement)).all()
        # Rows, typed as the model they mirror: readers only read attributes.
        return cast(Sequence[W], rows)
