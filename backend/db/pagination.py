"""Keyset pagination (first/after) with a total count, for any ordered select."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from backend.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    cursors: Sequence[str]
    has_next_page: bool
    total_count: int

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None


def _encode(values: Sequence[Any]) -> str:
    # Text as it is (ensure_ascii=False), escaped as Postgres' to_json escapes it, so a
    # statement writing a page as JSON writes the same cursors. Cursors made with
    # ensure_ascii (before) decode alike.
    raw = json.dumps(
        [v.isoformat() if isinstance(v, datetime) else str(v) for v in values], ensure_ascii=False
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The key values a cursor holds, typed as ``keys``; ValidationFailed otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        return [_parse(value, key) for value, key in zip(raw, keys, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error) as error:
        raise ValidationFailed("Not a valid cursor.", field="after") from error


def _after(
    keys: Sequence[InstrumentedAttribute[Any]], cursor: str, *, descending: bool = False
) -> ColumnElement[bool]:
    # Bind each value with its column's type, so it is stored-format-compatible
    # (SQLite compares timestamps as text).
    values = [
        literal(v, type_=k.type) for v, k in zip(decode_cursor(cursor, keys), keys, strict=True)
    ]
    return tuple_(*keys) < tuple_(*values) if descending else tuple_(*keys) > tuple_(*values)


def _parse(value: Any, key: InstrumentedAttribute[Any]) -> Any:
    if not isinstance(value, str):
        raise ValueError("cursor values are strings")
    kind = key.type.python_type
    if kind is UUID:
        return UUID(value)
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("cursor timestamps carry a time zone")
        return moment.astimezone(UTC)
    if kind is int:
        return int(value)
    if kind is float:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("cursor numbers are finite")
        return number
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is not str:
        # A cursor is only ever made for the keys above; anything else is not one.
        raise ValueError(f"no cursor orders by a {kind.__name__}")
    return value


async def paginate(
    session: AsyncSession,
    statement: Select[T],
    *,
    keys: Sequence[InstrumentedAttribute[Any]],
    first: int | None,
    after: str | None,
    descending: bool = False,
) -> Page[T]:
    """One page of ``statement`` ordered by ``keys`` (the last key must be unique)."""
    size = _page_size(first)
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    order = [key.desc() for key in keys] if descending else list(keys)
    page_statement = statement.order_by(*order).limit(size + 1)
    if after:
        page_statement = page_statement.where(_after(keys, after, descending=descending))
    rows = list((await session.scalars(page_statement)).all())
    items = rows[:size]
    cursors = [_encode([getattr(item, key.key) for key in keys]) for item in items]
    return Page(items, cursors, len(rows) > size, total or 0)


def _page_size(first: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"Must be between 0 and {MAX_PAGE_SIZE}.", field="first")
    return size


async def paginate_many(
    session: AsyncSession,
    statement: Select[T],
    *,
    partition: InstrumentedAttribute[Any],
    parents: Sequence[Any],
    keys: Sequence[InstrumentedAttribute[Any]],
    first: int | None,
    after: str | None,
) -> dict[Any, Page[T]]:
    """The same page of ``statement`` for many parents, in two queries in all.

    Nested connections (each organization's workspaces, each workspace's
    members) would otherwise cost two queries per parent: a window function
    ranks rows within each parent and keeps the first ``first + 1``.
    """
    size = _page_size(first)
    scoped = statement.where(partition.in_(parents))
    counted = scoped.order_by(None).subquery()
    totals: dict[Any, int] = dict(
        (
            await session.execute(
                select(counted.c[partition.key], func.count()).group_by(counted.c[partition.key])
            )
        ).all()
    )
    if after:
        scoped = scoped.where(_after(keys, after))
    rank = func.row_number().over(partition_by=partition, order_by=list(keys)).label("_rank")
    ranked = scoped.add_columns(rank).order_by(None).subquery()
    entity = statement.column_descriptions[0]["entity"]
    row_alias = aliased(entity, ranked)
    rows = (
        await session.execute(
            select(row_alias)
            .where(ranked.c._rank <= size + 1)
            .order_by(ranked.c[partition.key], ranked.c._rank)
        )
    ).scalars()
    grouped: dict[Any, list[T]] = {parent: [] for parent in parents}
    for row in rows:
        grouped[getattr(row, partition.key)].append(row)
    pages: dict[Any, Page[T]] = {}
    for parent, found in grouped.items():
        items = found[:size]
        cursors = [_encode([getattr(item, key.key) for key in keys]) for item in items]
        pages[parent] = Page(items, cursors, len(found) > size, totals.get(parent, 0))
    return pages
