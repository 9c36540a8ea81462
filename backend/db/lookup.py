"""Rows of any table by id, under the session's tenant binding: the one generic read the
per-domain repositories share (DataLoaders batch through it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar
from uuid import UUID

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession


class Row(Protocol):
    @property
    def id(self) -> UUID: ...


R = TypeVar("R", bound=Row)


async def rows_by_id(session: AsyncSession, model: type[R], ids: Iterable[UUID]) -> Sequence[R]:
    """The rows of ``model`` with these ids that the session's binding lets it see."""
    column = inspect(model).columns["id"]
    return (await session.scalars(select(model).where(column.in_(list(ids))))).all()
