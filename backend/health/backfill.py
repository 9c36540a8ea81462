"""Past days' snapshots recomputed when feedback from the past arrives.

A pass only writes today's snapshot, so an import of last year's feedback would leave
the history flat before today. Feedback that happened before today asks for a
backfill from its earliest day; a background job then recomputes the daily snapshots
from that day up to yesterday, each day's scores as they stood at its end, straight
from feedback.

The cost is bounded: at most ``CHUNK_DAYS`` days a step (one transaction; the rest is
left pending for the next step), never further back than the history reaches, and
every pending request coalesces into one range from the earliest day asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.health.history import MAX_DAYS
from backend.health.recalculate import health_as_of, scored_subjects
from backend.health.repository import requests, snapshots
from backend.health.repository.scores import Scored

CHUNK_DAYS = 31
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    days: tuple[date, ...]  # recomputed by this step, oldest first
    next_from: date | None  # the first day still pending; None when the backfill is done


async def request(
    session: AsyncSession, workspace_id: UUID, earliest: datetime, *, today: date | None = None
) -> bool:
    """Note feedback that happened as early as ``earliest``; True when that is before
    today (today's snapshot is the pass's to write)."""
    day = earliest.astimezone(UTC).date()
    if day >= (today or utcnow().date()):
        return False
    await requests.add_backfill(session, workspace_id, day)
    return True


def end_of(day: date) -> datetime:
    """The last moment of a UTC day: what happened at midnight belongs to the next."""
    return datetime.combine(day + _DAY, time.min, UTC) - timedelta(microseconds=1)


async def step(session: AsyncSession, workspace_id: UUID, *, today: date | None = None) -> Step:
    """Recompute the first ``CHUNK_DAYS`` days of what is pending and leave the rest
    pending; a step with nothing pending does nothing."""
    await requests.lock(session, workspace_id, purpose="health.backfill")
    since = await requests.take_backfill(session, workspace_id)
    if since is None:
        return Step((), None)
    today = today or utcnow().date()
    first = max(since, today - timedelta(days=MAX_DAYS))
    last = min(first + (CHUNK_DAYS - 1) * _DAY, today - _DAY)
    days: dict[date, list[Scored]] = {}
    day = first
    while day <= last:
        days[day] = scored_subjects(
            await health_as_of(session, workspace_id, end_of(day)), workspace_id
        )
        day += _DAY
    await snapshots.replace_days(session, workspace_id, days, utcnow())
    if day >= today:
        return Step(tuple(days), None)
    await requests.add_backfill(session, workspace_id, day)
    return Step(tuple(days), day)
