"""An initiative's outcome: its touchpoints' experience before and after shipping.

Two equal windows around ``shipped_at`` (90 days each, or as long as it has been
shipped), over the touchpoints it names and those of the pain points it names.
Each feedback item counts as its own experience value, the evidence part of the
health score (docs/health-score.md): the satisfaction and sentiment it carries, blended .5/.2,
on 0..100. Pain points and emotions keep no history, so they cannot be compared
across time. The change is larger than noise when it exceeds 1.96 standard errors
of the difference of two means (Welch), i.e. a two-sided 95 % test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.health.model import WINDOW
from backend.initiatives import repository
from backend.models import Initiative

Z_95 = 1.96


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime
    score: float | None
    sample_size: int
    variance: float | None


@dataclass(frozen=True)
class Outcome:
    before: Window
    after: Window

    @property
    def change(self) -> float | None:
        if self.before.score is None or self.after.score is None:
            return None
        return self.after.score - self.before.score

    @property
    def standard_error(self) -> float | None:
        b, a = self.before, self.after
        if b.variance is None or a.variance is None:
            return None
        return math.sqrt(b.variance / b.sample_size + a.variance / a.sample_size)

    @property
    def significant(self) -> bool:
        change, error = self.change, self.standard_error
        if change is None or error is None:
            return False
        return abs(change) > Z_95 * error if error > 0 else change != 0


async def touchpoints_of(session: AsyncSession, initiative: Initiative) -> set[UUID]:
    named = {UUID(t) for t in initiative.touchpoint_ids}
    if initiative.pain_point_ids:
        named |= await repository.touchpoints_of_pain_points(
            session, initiative.workspace_id, [UUID(p) for p in initiative.pain_point_ids]
        )
    return named


async def outcome_of(
    session: AsyncSession, initiative: Initiative, *, now: datetime | None = None
) -> Outcome | None:
    """None until it ships; windows shorter than 90 days while it is recent."""
    if initiative.shipped_at is None:
        return None
    now = now or utcnow()
    shipped = initiative.shipped_at
    length = min(WINDOW, max(now - shipped, timedelta(0)))
    touchpoints = await touchpoints_of(session, initiative)
    before = (shipped - length, shipped)
    after = (shipped, shipped + length)
    if not touchpoints or length <= timedelta(0):
        return Outcome(_empty(*before), _empty(*after))
    stats_before, stats_after = await repository.experience_stats(
        session, initiative.workspace_id, touchpoints, before, after
    )
    return Outcome(_window(before, stats_before), _window(after, stats_after))


def _empty(starts: datetime, ends: datetime) -> Window:
    return Window(starts, ends, None, 0, None)


def _window(bounds: tuple[datetime, datetime], stats: repository.WindowStats) -> Window:
    starts, ends = bounds
    n, mean, mean_square = stats
    if not n or mean is None or mean_square is None:
        return _empty(starts, ends)
    # The sample variance (n - 1), from the two sums the database returned.
    variance = max(0.0, (mean_square - mean * mean) * n / (n - 1)) if n > 1 else None
    return Window(starts, ends, mean, n, variance)
