"""Pending recalculation requests of a workspace, and the locks passes and backfills hold.

Two kinds share the table: a pass takes the requests without ``backfill_from`` (what
changed now); a backfill takes the ones with it (which past days to recompute).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import HealthRequest

BACKFILL = "backfill"


async def add(
    session: AsyncSession, workspace_id: UUID, reason: str, touchpoints: Iterable[UUID]
) -> None:
    """One request per touchpoint named, or one for the whole workspace when none is."""
    rows = [{"touchpoint_id": t, "reason": reason} for t in touchpoints] or [
        {"touchpoint_id": None, "reason": reason}
    ]
    session.add_all(HealthRequest(workspace_id=workspace_id, **row) for row in rows)
    await session.flush()


async def add_backfill(session: AsyncSession, workspace_id: UUID, since: date) -> None:
    """Ask for the snapshots from ``since`` up to yesterday to be recomputed."""
    session.add(HealthRequest(workspace_id=workspace_id, reason=BACKFILL, backfill_from=since))
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


async def take_backfill(session: AsyncSession, workspace_id: UUID) -> date | None:
    """The earliest day any pending backfill asks for, the requests removed (they all
    coalesce into one range up to yesterday); None when none is pending."""
    taken = await _take(session, workspace_id, backfill=True)
    return min((r.backfill_from for r in taken if r.backfill_from is not None), default=None)


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
