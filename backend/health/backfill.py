"""Past days' snapshots recomputed when feedback from the past arrives.

A pass only writes today's snapshot, so an import of last year's feedback would leave
the history flat before today. Feedback that happened before today asks for a
backfill of the days it can change: from its earliest day for ``REACH`` (a day's
score reads the current window and the one before it), no later than yesterday. A
background job then recomputes those daily snapshots, each day's scores as they stood
at its end, straight from feedback.

The cost is bounded: at most ``CHUNK_DAYS`` days a step (one transaction; the rest is
left pending for the next step), never further back than the history reaches, never
more than ``REACH`` days for one item however old, and pending requests that overlap
coalesce, so the same day asked for twice is recomputed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.health.history import MAX_DAYS
from backend.health.model import WINDOW
from backend.health.recalculate import health_as_of, scored_subjects
from backend.health.repository import requests, snapshots
from backend.health.repository.requests import Days
from backend.health.repository.scores import Scored

CHUNK_DAYS = 31
# The last day an item of day d can move is d + REACH: after it, the item has left
# both windows a score reads (the current one and the one before, for the trend).
REACH = 2 * WINDOW
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    days: tuple[date, ...]  # recomputed by this step, oldest first
    next_from: date | None  # the first day still pending; None when the backfill is done


async def request(
    session: AsyncSession,
    workspace_id: UUID,
    *occurred_at: datetime,
    today: date | None = None,
    through: date | None = None,
) -> bool:
    """Note feedback that happened at these times: the days each can move, up to
    yesterday (today's snapshot is the pass's), as few requests as they join into; True
    when any happened before today. ``through`` stretches every request to that day."""
    today = today or utcnow().date()
    wanted = [
        Days(day, min(max(day + REACH, through or day), today - _DAY))
        for day in {at.astimezone(UTC).date() for at in occurred_at}
        if day < today
    ]
    for days in requests.merged(wanted):
        await requests.add_backfill(session, workspace_id, days)
    return bool(wanted)


def end_of(day: date) -> datetime:
    """The last moment of a UTC day: what happened at midnight belongs to the next."""
    return datetime.combine(day + _DAY, time.min, UTC) - timedelta(microseconds=1)


async def step(session: AsyncSession, workspace_id: UUID, *, today: date | None = None) -> Step:
    """Recompute the first ``CHUNK_DAYS`` pending days, oldest first, and leave the rest
    pending; a step with nothing pending does nothing."""
    await requests.lock(session, workspace_id, purpose="health.backfill")
    today = today or utcnow().date()
    # Days before the history's reach have no snapshot to rewrite; today is the pass's.
    horizon = Days(today - timedelta(days=MAX_DAYS), today - _DAY)
    pending = [
        Days(max(d.first, horizon.first), min(d.last, horizon.last))
        for d in await requests.take_backfill(session, workspace_id, reach=REACH)
    ]
    pending = [d for d in pending if d.first <= d.last]
    if not pending:
        return Step((), None)
    chosen = [day for d in pending for day in _each(d)][:CHUNK_DAYS]
    days: dict[date, list[Scored]] = {}
    for day in chosen:
        days[day] = scored_subjects(
            await health_as_of(session, workspace_id, end_of(day)), workspace_id
        )
    await snapshots.replace_days(session, workspace_id, days, utcnow())
    left = [Days(max(d.first, chosen[-1] + _DAY), d.last) for d in pending if d.last > chosen[-1]]
    for d in left:
        await requests.add_backfill(session, workspace_id, d)
    return Step(tuple(days), left[0].first if left else None)


def _each(days: Days) -> list[date]:
    return [days.first + n * _DAY for n in range((days.last - days.first).days + 1)]
