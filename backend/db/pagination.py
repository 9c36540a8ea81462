"""Keyset pagination, Relay's way (first/after forward, last/before backward), with a
total count, for any ordered select."""

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
class PageRequest:
    """The page a caller asks for: ``first`` rows after ``after``, or ``last`` rows before
    ``before`` (the rows nearest ``before``, or the end, in the list's own order).

    Both cursors bound the rows whichever way it reads; ``last``, or ``before`` without
    ``first``, reads backward. Asking ``first`` and ``last`` together is refused, as
    the Relay specification advises against it.
    """

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def backward(self) -> bool:
        return self.last is not None or (self.first is None and bool(self.before))

    def size(self) -> int:
        """How many rows at most; ValidationFailed for a size out of range, or both."""
        if self.first is not None and self.last is not None:
            raise ValidationFailed("Give first or last, not both.", field="last")
        if self.backward:
            return _page_size(self.last, "last")
        return _page_size(self.first, "first")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Rows in the list's order with their cursors. Only the direction read is known to
    have more: a forward page says ``has_next_page``, a backward one
    ``has_previous_page``; the other is false (Relay lets a server not look)."""

    items: Sequence[T]
    cursors: Sequence[str]
    has_next_page: bool
    total_count: int
    has_previous_page: bool = False

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


def decode_cursor(
    cursor: str, keys: Sequence[InstrumentedAttribute[Any]], *, field: str = "after"
) -> list[Any]:
    """The key values a cursor holds, typed as ``keys``; ValidationFailed on ``field``
    otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        return [_parse(value, key) for value, key in zip(raw, keys, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error) as error:
        raise ValidationFailed("Not a valid cursor.", field=field) from error


def _bounds(
    keys: Sequence[InstrumentedAttribute[Any]], page: PageRequest, *, descending: bool
) -> list[ColumnElement[bool]]:
    """The rows between the page's cursors: after ``after``, before ``before``, in the
    list's order (``descending`` or not)."""
    bounds = []
    for cursor, field, later in ((page.after, "after", True), (page.before, "before", False)):
        if not cursor:
            continue
        # Bind each value with its column's type, so it is stored-format-compatible
        # (SQLite compares timestamps as text).
        values = tuple_(
            *(
                literal(v, type_=k.type)
                for v, k in zip(decode_cursor(cursor, keys, field=field), keys, strict=True)
            )
        )
        if later != descending:
            bounds.append(tuple_(*keys) > values)
        else:
            bounds.append(tuple_(*keys) < values)
    return bounds


def _order(keys: Sequence[InstrumentedAttribute[Any]], *, descending: bool) -> list[Any]:
    return [key.desc() for key in keys] if descending else list(keys)


def _page(
    rows: list[T],
    size: int,
    keys: Sequence[InstrumentedAttribute[Any]],
    page: PageRequest,
    total: int,
) -> Page[T]:
    """A page of ``rows`` read in the direction asked (one more than ``size``, to tell
    whether there are more), in the list's order."""
    more = len(rows) > size
    items = rows[:size]
    if page.backward:
        items.reverse()
    cursors = [_encode([getattr(item, key.key) for key in keys]) for item in items]
    return Page(
        items,
        cursors,
        has_next_page=more and not page.backward,
        total_count=total,
        has_previous_page=more and page.backward,
    )


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
    page: PageRequest,
    descending: bool = False,
) -> Page[T]:
    """One page of ``statement`` ordered by ``keys`` (the last key must be unique).

    A backward page reads the same order reversed, then turns its rows round: the same
    two statements (the total, the rows) either way."""
    size = page.size()
    bounds = _bounds(keys, page, descending=descending)
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    page_statement = (
        statement.where(*bounds)
        .order_by(*_order(keys, descending=descending != page.backward))
        .limit(size + 1)
    )
    rows = list((await session.scalars(page_statement)).all())
    return _page(rows, size, keys, page, total or 0)


def _page_size(given: int | None, field: str) -> int:
    size = DEFAULT_PAGE_SIZE if given is None else given
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"Must be between 0 and {MAX_PAGE_SIZE}.", field=field)
    return size


async def paginate_many(
    session: AsyncSession,
    statement: Select[T],
    *,
    partition: InstrumentedAttribute[Any],
    parents: Sequence[Any],
    keys: Sequence[InstrumentedAttribute[Any]],
    page: PageRequest,
) -> dict[Any, Page[T]]:
    """The same page of ``statement`` for many parents, in two queries in all.

    Nested connections (each organization's workspaces, each workspace's
    members) would otherwise cost two queries per parent: a window function
    ranks rows within each parent, from the end read from, and keeps one more than
    the page holds.
    """
    size = page.size()
    bounds = _bounds(keys, page, descending=False)
    scoped = statement.where(partition.in_(parents))
    counted = scoped.order_by(None).subquery()
    totals: dict[Any, int] = dict(
        (
            await session.execute(
                select(counted.c[partition.key], func.count()).group_by(counted.c[partition.key])
            )
        ).all()
    )
    order = _order(keys, descending=page.backward)
    rank = func.row_number().over(partition_by=partition, order_by=order).label("_rank")
    ranked = scoped.where(*bounds).add_columns(rank).order_by(None).subquery()
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
    return {
        parent: _page(found, size, keys, page, totals.get(parent, 0))
        for parent, found in grouped.items()
    }
