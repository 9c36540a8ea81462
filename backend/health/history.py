"""A subject's score over time, from the daily snapshots, in day, week or month buckets.

Read in the caller's tenant scope: a subject out of reach has no history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import ValidationFailed
from backend.health.repository import scores
from backend.models import HealthSnapshot

MAX_DAYS = 3 * 366


class Bucket(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"  # starting on Monday
    MONTH = "MONTH"


@dataclass(frozen=True)
class Point:
    starts_at: datetime
    score: float | None  # the last snapshot in the bucket: where the subject stood at its end
    sample_size: int
    confidence: float | None  # None: too little evidence for a score
    low: float | None = None  # the score's 95 % interval that day
    high: float | None = None


def bucket_start(day: date, bucket: Bucket) -> date:
    if bucket is Bucket.WEEK:
        return day - timedelta(days=day.weekday())
    if bucket is Bucket.MONTH:
        return day.replace(day=1)
    return day


async def history(
    session: AsyncSession,
    subject_id: UUID,
    starts: datetime,
    ends: datetime,
    bucket: Bucket,
) -> list[Point]:
    if ends <= starts:
        raise ValidationFailed("Must be later than `from`.", field="to")
    if ends - starts > timedelta(days=MAX_DAYS):
        raise ValidationFailed(f"At most {MAX_DAYS} days at once.", field="to")
    snapshots = await scores.snapshots(
        session, subject_id, starts.astimezone(UTC).date(), ends.astimezone(UTC).date()
    )
    last: dict[date, HealthSnapshot] = {}
    for snapshot in snapshots:
        last[bucket_start(snapshot.day, bucket)] = snapshot  # ordered: the latest wins
    return [
        Point(
            datetime(start.year, start.month, start.day, tzinfo=UTC),
            s.score,
            s.sample_size,
            s.confidence,
            s.low,
            s.high,
        )
        for start, s in last.items()
    ]
