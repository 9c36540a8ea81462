"""The sums behind survey results, in one grouped statement whatever the volume.

Per group, measure kind and survey definition (or the kind's default scale): the
number of answers, the sum of their item indexes and of their squares (enough for a
mean and a t interval), and how many answers sit at index 100, 50 and 0 (NPS
promoters, passives and detractors; CSAT's top-2-box). Time buckets come back as
UTC days; the service folds days into weeks and months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Date, Float, Integer, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from backend.feedback.survey_query import TIME_BUCKETS, Grouping, SurveyFilter
from backend.measures import sql
from backend.measures.scales import Scale
from backend.measures.stats import Moments
from backend.models import Feedback, Touchpoint
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Channel

# What a group is: a touchpoint's, stage's, map's, persona's or workspace's id, a
# channel, a UTC day; None for answers without one (no touchpoint, no channel...).
GroupKey = UUID | Channel | date | None

_COLUMNS: dict[Grouping, Any] = {
    Grouping.TOUCHPOINT: Feedback.touchpoint_id,
    Grouping.STAGE: None,  # the stage its touchpoint is in now: see ``_stage``
    Grouping.JOURNEY_MAP: Feedback.journey_map_id,
    Grouping.WORKSPACE: Feedback.workspace_id,
    Grouping.PERSONA: Feedback.persona_id,
    Grouping.CHANNEL: Feedback.channel,
}


@dataclass(frozen=True)
class Definition:
    """The survey definition a row's answers were given to."""

    id: UUID
    key: str
    version: int
    question: str


@dataclass(frozen=True)
class Sums:
    """One group's answers to one survey definition (or default scale)."""

    group: GroupKey
    scale: Scale
    definition: Definition | None
    index: Moments  # of the item index, 0..100
    top: int  # answers at index 100: NPS promoters, CSAT top-2-box
    middle: int  # at 50: NPS passives
    bottom: int  # at 0: NPS detractors


def _utc_day(session: AsyncSession) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Feedback.occurred_at), Date)
    return func.date(Feedback.occurred_at)  # stored as naive UTC text


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


# An answer's touchpoint as the journey stands now: a touchpoint moved to another stage
# takes its answers along, as it does for the stage's health and themes.
_current = aliased(Touchpoint, name="answer_touchpoint")


def _stage() -> ColumnElement[Any]:
    return func.coalesce(_current.stage_id, Feedback.stage_id)


async def survey_sums(
    session: AsyncSession,
    workspace_id: UUID,
    group_by: Grouping,
    starts: datetime,
    ends: datetime,
    narrowed: SurveyFilter,
) -> list[Sums]:
    """Answers given in ``[starts, ends)``, summed per group and survey definition."""
    definition = sql.definition
    by_stage = group_by is Grouping.STAGE or narrowed.stage_id is not None
    if group_by in TIME_BUCKETS:
        group = _utc_day(session)
    else:
        group = _stage() if group_by is Grouping.STAGE else _COLUMNS[group_by]
    answers = (
        select(
            group.label("grp"),
            Feedback.measure.label("measure"),
            definition.id.label("definition_id"),
            definition.key.label("key"),
            definition.version.label("version"),
            definition.question.label("question"),
            cast(sql.scale_low(), Integer).label("low"),
            cast(sql.scale_high(), Integer).label("high"),
            sql.higher_is_better().label("better"),
            cast(sql.item_index(), Float).label("idx"),
        )
        .outerjoin(*sql.join_definition())
        .where(
            Feedback.workspace_id == workspace_id,
            Feedback.measure.is_not(None),
            Feedback.measure_value.is_not(None),
            Feedback.occurred_at >= starts,
            Feedback.occurred_at < ends,
        )
    )
    if narrowed.journey_map_id is not None:
        answers = answers.where(Feedback.journey_map_id == narrowed.journey_map_id)
    if by_stage:
        answers = answers.outerjoin(
            _current,
            and_(
                _current.workspace_id == Feedback.workspace_id,
                _current.id == Feedback.touchpoint_id,
            ),
        )
    if narrowed.stage_id is not None:
        answers = answers.where(_stage() == narrowed.stage_id)
    if narrowed.touchpoint_id is not None:
        answers = answers.where(Feedback.touchpoint_id == narrowed.touchpoint_id)
    if narrowed.survey_key is not None:
        answers = answers.where(definition.key == narrowed.survey_key)
    a = answers.subquery("answers")
    keys = (a.c.grp, a.c.measure, a.c.definition_id, a.c.key, a.c.version, a.c.question)
    scale = (a.c.low, a.c.high, a.c.better)
    statement = select(
        *keys,
        *scale,
        func.count(),
        func.sum(a.c.idx),
        func.sum(a.c.idx * a.c.idx),
        _count(a.c.idx == 100.0),
        _count(a.c.idx == 50.0),
        _count(a.c.idx == 0.0),
    ).group_by(*keys, *scale)
    rows = (await session.execute(statement)).all()
    return [_sums(row, group_by) for row in rows]


def _group_key(value: Any, group_by: Grouping) -> GroupKey:
    if value is None:
        return None
    if group_by in TIME_BUCKETS:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if group_by is Grouping.CHANNEL:
        return Channel(value)
    return value if isinstance(value, UUID) else UUID(str(value))


def _sums(row: Sequence[Any], group_by: Grouping) -> Sums:
    grp, measure, definition_id, key, version, question, low, high, better = row[:9]
    n, total, total_sq, top, middle, bottom = row[9:]
    return Sums(
        group=_group_key(grp, group_by),
        scale=Scale(MeasureKind(measure), int(low), int(high), bool(better)),
        definition=Definition(
            definition_id if isinstance(definition_id, UUID) else UUID(str(definition_id)),
            key,
            version,
            question,
        )
        if definition_id is not None
        else None,
        index=Moments(int(n), float(total or 0.0), float(total_sq or 0.0)),
        top=int(top or 0),
        middle=int(middle or 0),
        bottom=int(bottom or 0),
    )
