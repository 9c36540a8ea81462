"""Past days' snapshots rewritten by a backfill; a pass writes today's with the scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.health.repository.scores import SNAPSHOT_COLUMNS, Scored, document_of
from backend.models import HealthSnapshot


async def replace_days(
    session: AsyncSession,
    workspace_id: UUID,
    days: Mapping[date, Sequence[Scored]],
    taken_at: datetime,
) -> int:
    """The snapshots of these days of the subjects given become the rows given; two
    statements however many days. Returns the rows written.

    Subjects not given keep theirs: a deleted map scores nothing now, and its history
    must outlive the recomputation in case it is restored."""
    if not days:
        return 0
    subjects = {subject_id for scored in days.values() for _, subject_id, _ in scored}
    if subjects:
        await session.execute(
            delete(HealthSnapshot).where(
                HealthSnapshot.workspace_id == workspace_id,
                HealthSnapshot.day.in_(list(days)),
                HealthSnapshot.subject_id.in_(subjects),
            )
        )
    rows = [
        {
            "workspace_id": workspace_id,
            "subject_id": subject_id,
            "day": day,
            "taken_at": taken_at,
            **{k: document[k] for k in SNAPSHOT_COLUMNS},
        }
        for day, scored in days.items()
        for kind, subject_id, score in scored
        for document in (document_of(kind, subject_id, score),)
    ]
    if rows:
        await session.execute(insert(HealthSnapshot), rows)
    return len(rows)
