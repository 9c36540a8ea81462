"""The standard survey metrics, computed as survey tools compute them.

NPS (promoters % - detractors %, -100..100), CSAT (top-2-box %), CES and RATING (the
mean answer on the survey's own scale), each with the number of answers and a 95 %
interval: Wilson for CSAT's proportion, Student t for means. NPS's interval is the t
interval of the per-answer +1 / 0 / -1 values, the usual NPS margin of error (the
item index is a linear map of those values, so its t interval maps onto it exactly).

Answers to different scales are never averaged together; see ``Pooling`` for when
definitions share a row. One grouped statement reads the sums
(``repository.survey_results``); everything here is arithmetic on them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import ValidationFailed
from backend.feedback.repository.survey_results import Definition, GroupKey, Sums, survey_sums
from backend.feedback.survey_query import (
    TIME_BUCKETS,
    Grouping,
    Pooling,
    SurveyFilter,
    SurveyResultsQuery,
)
from backend.measures.scales import DEFAULT_SCALES, Scale, headline
from backend.measures.stats import t_interval, wilson
from backend.vocabulary.feedback import MeasureKind

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "Definition",
    "Grouping",
    "Pooling",
    "SurveyFilter",
    "SurveyResult",
    "SurveyResultsQuery",
    "survey_results",
]

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366  # one statement reads the whole range; days are what it groups by
# Reported numbers are rounded here: the way back from the item index to an answer's
# scale leaves float noise (2.9999999999999996 for a mean of 3), and no survey tool
# shows more than a few decimals.
DECIMALS = 9

_KIND_ORDER = {kind: n for n, kind in enumerate(MeasureKind)}


@dataclass(frozen=True)
class SurveyResult:
    """One group's answers to one survey (or one pooled scale)."""

    group: GroupKey  # for a time bucket: the day it starts on
    scale: Scale
    definition: Definition | None  # None: the kind's default scale, or pooled by scale
    answers: int
    value: float  # NPS -100..100, CSAT %, CES / RATING mean answer on its scale
    interval: tuple[float, float] | None  # 95 %; None below two answers for means
    promoters: int | None = None  # NPS only, and passives and detractors with it
    passives: int | None = None
    detractors: int | None = None
    satisfied: int | None = None  # CSAT only: answers in the top two boxes


async def survey_results(session: AsyncSession, query: SurveyResultsQuery) -> list[SurveyResult]:
    """The standard metrics of the answers given in the query's period, per group."""
    starts, ends = _period(query.starts, query.ends)
    rows = await survey_sums(
        session, query.workspace_id, query.group_by, starts, ends, query.filter
    )
    pooled: dict[Hashable, Sums] = {}
    for row in rows:
        row = _regrouped(row, query.group_by, query.pooling)
        key = (row.group, row.scale, row.definition)
        found = pooled.get(key)
        pooled[key] = row if found is None else _added(found, row)
    return sorted((_result(s) for s in pooled.values()), key=_order)


def _period(starts: datetime | None, ends: datetime | None) -> tuple[datetime, datetime]:
    ends = ends or datetime.now(UTC)
    starts = starts or ends - timedelta(days=DEFAULT_DAYS)
    if ends <= starts:
        raise ValidationFailed("Must be later than `from`.", field="to")
    if ends - starts > timedelta(days=MAX_DAYS):
        raise ValidationFailed(f"At most {MAX_DAYS} days at once.", field="to")
    return starts, ends


def bucket_start(day: date, grouping: Grouping) -> date:
    """The first day of ``day``'s bucket: itself, its week's Monday, its month's first."""
    if grouping is Grouping.WEEK:
        return day - timedelta(days=day.weekday())
    if grouping is Grouping.MONTH:
        return day.replace(day=1)
    return day


def _regrouped(row: Sums, grouping: Grouping, pooling: Pooling) -> Sums:
    """The row under the key it is counted in: its bucket, its pooled scale."""
    group = row.group
    if grouping in TIME_BUCKETS and isinstance(group, date):
        group = bucket_start(group, grouping)
    if pooling is Pooling.DEFINITION:
        return replace(row, group=group)
    # Every NPS reads 0-10 in the same three classes; others pool on an equal scale.
    scale = DEFAULT_SCALES[MeasureKind.NPS] if row.scale.kind is MeasureKind.NPS else row.scale
    return replace(row, group=group, scale=scale, definition=None)


def _added(a: Sums, b: Sums) -> Sums:
    return replace(
        a,
        index=a.index + b.index,
        top=a.top + b.top,
        middle=a.middle + b.middle,
        bottom=a.bottom + b.bottom,
    )


def _result(sums: Sums) -> SurveyResult:
    scale, n = sums.scale, sums.index.n
    mean = sums.index.mean or 0.0
    value = round(headline(scale, mean), DECIMALS)
    base = SurveyResult(sums.group, scale, sums.definition, n, value, None)
    if scale.kind is MeasureKind.CSAT:
        proportion = wilson(sums.top, n)
        interval = _rounded((100.0 * proportion[0], 100.0 * proportion[1]) if proportion else None)
        return replace(base, interval=interval, satisfied=sums.top)
    interval = _rounded(_on_scale(scale, t_interval(sums.index)))
    if scale.kind is MeasureKind.NPS:
        return replace(
            base,
            interval=interval,
            promoters=sums.top,
            passives=sums.middle,
            detractors=sums.bottom,
        )
    return replace(base, interval=interval)


def _rounded(interval: tuple[float, float] | None) -> tuple[float, float] | None:
    return (round(interval[0], DECIMALS), round(interval[1], DECIMALS)) if interval else None


def _on_scale(scale: Scale, index: tuple[float, float] | None) -> tuple[float, float] | None:
    """An interval of the mean item index as the headline's interval, cut at the ends of
    what the headline can be (a t interval of few answers runs past them)."""
    if index is None:
        return None
    ends = sorted(headline(scale, bound) for bound in (0.0, 100.0))
    low, high = sorted(headline(scale, bound) for bound in index)
    return max(low, ends[0]), min(high, ends[1])


def _order(result: SurveyResult) -> tuple[object, ...]:
    definition = result.definition
    return (
        result.group is None,
        str(result.group or ""),
        _KIND_ORDER[result.scale.kind],
        result.scale.low,
        result.scale.high,
        not result.scale.higher_is_better,
        definition is not None,
        definition.key if definition else "",
        definition.version if definition else 0,
    )
