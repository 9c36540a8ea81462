"""An initiative's outcome read from the database: the answers, the comparison
candidates and the target metric, handed to the pure analysis."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.initiatives import repository
from backend.initiatives.outcome import trend
from backend.initiatives.outcome.analysis import (
    Analysis,
    Answers,
    Evidence,
    OutcomeWarning,
    analyse,
)
from backend.initiatives.outcome.detection import Detection, detection
from backend.measures.stats import Moments
from backend.models import Initiative

WINDOW = timedelta(days=90)  # each side of shipping, as long as it has been shipped


@dataclass(frozen=True)
class Window:
    """The initiative's own touchpoints in one window."""

    starts_at: datetime
    ends_at: datetime
    score: float | None  # mean item index, 0..100
    sample_size: int


@dataclass(frozen=True)
class Outcome:
    before: Window
    after: Window
    analysis: Analysis
    target_trend: trend.TrendCheck | None

    @property
    def change(self) -> float | None:
        """After - before at the initiative's touchpoints, unadjusted."""
        return self.analysis.treated.change

    @property
    def warnings(self) -> tuple[OutcomeWarning, ...]:
        extra: tuple[OutcomeWarning, ...] = ()
        if self.target_trend is not None and self.target_trend.follows_trend:
            extra = (OutcomeWarning.TARGET_METRIC_FOLLOWS_TREND,)
        return self.analysis.warnings + extra

    @property
    def standard_error(self) -> float | None:
        difference = self.analysis.difference
        return difference.standard_error if difference else None

    @property
    def significant(self) -> bool:
        return self.analysis.significant


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
    shipped = initiative.shipped_at
    if shipped is None:
        return None
    length = min(WINDOW, max((now or utcnow()) - shipped, timedelta(0)))
    starts, ends = shipped - length, shipped + length
    treated = await touchpoints_of(session, initiative)
    excluded = treated | await _touched_by_others(session, initiative, starts, ends)
    evidence = await _evidence(
        session, initiative.workspace_id, treated, excluded, starts, shipped, ends
    )
    analysis = analyse(evidence)
    before = Window(starts, shipped, analysis.treated.before, analysis.treated.answers_before)
    after = Window(shipped, ends, analysis.treated.after, analysis.treated.answers_after)
    return Outcome(before, after, analysis, await _target_trend(session, initiative, ends))


async def planned_detection(
    session: AsyncSession, initiative: Initiative, *, now: datetime | None = None
) -> Detection | None:
    """None once shipped (the outcome speaks then)."""
    if initiative.shipped_at is not None:
        return None
    ends = now or utcnow()
    starts = ends - WINDOW
    treated = await touchpoints_of(session, initiative)
    excluded = treated | await _touched_by_others(session, initiative, starts, ends)
    recent = await _evidence(
        session, initiative.workspace_id, treated, excluded, starts, ends, ends
    )
    return detection(
        {k: a.before for k, a in recent.treated.items()},
        {k: a.before for k, a in recent.untouched.items()},
    )


async def _touched_by_others(
    session: AsyncSession, initiative: Initiative, starts: datetime, ends: datetime
) -> set[UUID]:
    """Touchpoints of other initiatives shipped inside the windows: not comparable."""
    others = [
        other
        for other in await repository.shipped_between(
            session, initiative.workspace_id, starts, ends
        )
        if other.id != initiative.id
    ]
    touched = {UUID(t) for other in others for t in other.touchpoint_ids}
    pains = {UUID(p) for other in others for p in other.pain_point_ids}
    if pains:  # one query for all of them
        touched |= await repository.touchpoints_of_pain_points(
            session, initiative.workspace_id, pains
        )
    return touched


async def _evidence(
    session: AsyncSession,
    workspace_id: UUID,
    treated: set[UUID],
    excluded: set[UUID],
    starts: datetime,
    split: datetime,
    ends: datetime,
) -> Evidence:
    cells: dict[UUID, list[Moments]] = defaultdict(lambda: [Moments(), Moments()])
    mix: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    for row in await repository.item_sums(session, workspace_id, starts, split, ends):
        cells[row.touchpoint_id][row.after] += row.moments
        if row.touchpoint_id in treated:
            mix[row.after][row.survey] += row.moments.n
    live = await repository.live_touchpoint_ids(session, workspace_id)
    return Evidence(
        treated={t: Answers(*cells[t]) for t in treated if t in cells},
        untouched={
            t: Answers(*both) for t, both in cells.items() if t in live and t not in excluded
        },
        mix_before=mix[0],
        mix_after=mix[1],
    )


async def _target_trend(
    session: AsyncSession, initiative: Initiative, ends: datetime
) -> trend.TrendCheck | None:
    shipped, metric = initiative.shipped_at, initiative.target_metric_id
    if shipped is None or metric is None:
        return None
    workspace = initiative.workspace_id
    before = await repository.metric_values(
        session, workspace, metric, shipped - trend.LOOKBACK, shipped
    )
    after = await repository.metric_values(session, workspace, metric, shipped, ends)
    return trend.check(before, after, shipped)
