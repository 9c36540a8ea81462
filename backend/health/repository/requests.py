"""Pending recalculation requests of a workspace, and the locks passes and backfills hold.

Two kinds share the table: a pass takes the requests without ``backfill_from`` (what
changed now); a backfill takes the ones with it (which past days to recompute, from
``backfill_from`` to ``backfill_to``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import HealthRequest

BACKFILL = "backfill"
_DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Days:
    """The days ``first`` to ``last``, both included."""

    first: date
    last: date


async def add(
    session: AsyncSession, workspace_id: UUID, reason: str, touchpoints: Iterable[UUID]
) -> None:
    """One request per touchpoint named, or one for the whole workspace when none is."""
    rows = [{"touchpoint_id": t, "reason": reason} for t in touchpoints] or [
        {"touchpoint_id": None, "reason": reason}
    ]
    session.add_all(HealthRequest(workspace_id=workspace_id, **row) for row in rows)
    await session.flush()


async def add_backfill(session: AsyncSession, workspace_id: UUID, days: Days) -> None:
    """Ask for the snapshots of these days to be recomputed."""
    session.add(
        HealthRequest(
            workspace_id=workspace_id,
            reason=BACKFILL,
            backfill_from=days.first,
            backfill_to=days.last,
        )
    )
    await session.flush()


async def lock(session: AsyncSession, workspace_id: UUID, *, purpose: str = "health") -> None:
    # Two passes for one workspace at once would read the same requests; the
    # second waits here and then finds them gone. SQLite's write lock does this.
    # Backfills lock under their own purpose: a long one does not hold up passes.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"waypost.{purpose}:{workspace_id}"},
        )


async def take_pending(session: AsyncSession, workspace_id: UUID) -> Sequence[HealthRequest]:
    """The workspace's pending requests, removed as they are read: this pass takes them."""
    return await _take(session, workspace_id, backfill=False)


async def take_backfill(
    session: AsyncSession, workspace_id: UUID, *, reach: timedelta
) -> list[Days]:
    """The days pending backfills ask for, oldest first, the requests removed: overlapping
    or adjacent requests join, so asking twice for a pending day costs nothing more.
    A request without an end (written before requests had one) reaches ``reach`` days."""
    taken = await _take(session, workspace_id, backfill=True)
    return merged(
        Days(r.backfill_from, r.backfill_to or r.backfill_from + reach)
        for r in taken
        if r.backfill_from is not None
    )


def merged(intervals: Iterable[Days]) -> list[Days]:
    """The same days as fewest intervals, oldest first."""
    joined: list[Days] = []
    for days in sorted(intervals):
        if joined and days.first <= joined[-1].last + _DAY:
            joined[-1] = Days(joined[-1].first, max(joined[-1].last, days.last))
        else:
            joined.append(days)
    return joined


async def _take(
    session: AsyncSession, workspace_id: UUID, *, backfill: bool
) -> Sequence[HealthRequest]:
    kind = (
        HealthRequest.backfill_from.is_not(None)
        if backfill
        else HealthRequest.backfill_from.is_(None)
    )
    pending = (
        await session.scalars(
            select(HealthRequest).where(HealthRequest.workspace_id == workspace_id, kind)
        )
    ).all()
    if pending:
        await session.execute(
            delete(HealthRequest).where(
                HealthRequest.workspace_id == workspace_id,
                HealthRequest.id.in_([r.id for r in pending]),
            )
        )
    return pending
