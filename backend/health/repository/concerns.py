"""Unfavourable answers of a subject per metric, with a few examples: one statement.

"Unfavourable" is what a survey tool would flag: an NPS detractor (0-6), a CSAT answer
outside the top two boxes, a CES or rating answer in the worse half of its scale (item
index below 50), a scored text with sentiment below -0.05.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, String, and_, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.health.model import WINDOW, Metric
from backend.health.repository.evidence import scored_text
from backend.measures import sql as measures
from backend.models import Feedback

NEGATIVE_SENTIMENT = -0.05


@dataclass(frozen=True)
class Concern:
    metric: Metric
    unfavourable: int
    answers: int
    examples: list[UUID]  # the latest unfavourable items, those with a text first


async def concerns(
    session: AsyncSession,
    workspace_id: UUID,
    placed: ColumnElement[bool],
    as_of: datetime,
    examples: int = 3,
) -> list[Concern]:
    """Per metric of the feedback ``placed`` selects in the current window, worst share first."""
    scope = [
        Feedback.workspace_id == workspace_id,
        placed,
        Feedback.occurred_at > as_of - WINDOW,
        Feedback.occurred_at <= as_of,
    ]
    index = measures.item_index()
    has_text = case((Feedback.text != "", 1), else_=0)
    answers = (
        select(
            cast(Feedback.measure, String(16)).label("metric"),
            Feedback.id,
            case((index < 50.0, 1), else_=0).label("bad"),
            has_text.label("has_text"),
            Feedback.occurred_at,
        )
        .outerjoin(*measures.join_definition())
        .where(*scope, index.is_not(None))
    )
    texts = select(
        literal(Metric.SENTIMENT.value, String(16)).label("metric"),
        Feedback.id,
        case((Feedback.sentiment < NEGATIVE_SENTIMENT, 1), else_=0).label("bad"),
        has_text.label("has_text"),
        Feedback.occurred_at,
    ).where(*scope, scored_text())
    rows = union_all(answers, texts).subquery("rows")
    ranked = select(
        rows.c.metric,
        rows.c.id,
        rows.c.bad,
        func.count().over(partition_by=rows.c.metric).label("answers"),
        func.sum(cast(rows.c.bad, Integer)).over(partition_by=rows.c.metric).label("unfavourable"),
        func.row_number()
        .over(
            partition_by=rows.c.metric,
            order_by=(
                rows.c.bad.desc(),
                rows.c.has_text.desc(),
                rows.c.occurred_at.desc(),
                rows.c.id,
            ),
        )
        .label("rank"),
    ).subquery("ranked")
    found: dict[str, Concern] = {}
    for row in (
        await session.execute(select(ranked).where(and_(ranked.c.rank <= max(examples, 1))))
    ).all():
        concern = found.setdefault(
            row.metric,
            Concern(Metric(row.metric), int(row.unfavourable or 0), int(row.answers), []),
        )
        if row.bad and len(concern.examples) < examples:
            concern.examples.append(row.id)
    return sorted(found.values(), key=lambda c: (-c.unfavourable / c.answers, c.metric))


def placed_on(column: Any, ids: Collection[UUID]) -> ColumnElement[bool]:
    """Feedback whose ``column`` (touchpoint_id, stage_id or journey_map_id) is one of ``ids``."""
    found: ColumnElement[bool] = column.in_(list(ids))
    return found
