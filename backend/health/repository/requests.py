"""Pending recalculation requests of a workspace, and the lock one pass holds over them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import HealthRequest


async def add(
    session: AsyncSession, workspace_id: UUID, reason: str, touchpoints: Iterable[UUID]
) -> None:
    """One request per touchpoint named, or one for the whole workspace when none is."""
    rows = [{"touchpoint_id": t, "reason": reason} for t in touchpoints] or [
        {"touchpoint_id": None, "reason": reason}
    ]
    session.add_all(HealthRequest(workspace_id=workspace_id, **row) for row in rows)
    await session.flush()


async def lock(session: AsyncSession, workspace_id: UUID) -> None:
    # Two passes for one workspace at once would read the same requests; the
    # second waits here and then finds them gone. SQLite's write lock does this.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"waypost.health:{workspace_id}"},
        )


async def take_pending(session: AsyncSession, workspace_id: UUID) -> Sequence[HealthRequest]:
    """The workspace's pending requests, removed as they are read: this pass takes them."""
    pending = (
        await session.scalars(
            select(HealthRequest).where(HealthRequest.workspace_id == workspace_id)
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
