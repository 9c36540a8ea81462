"""Feedback summed into per-touchpoint evidence: one grouped SQL statement, any volume.

The database does the per-row work (recency weights, normalised measures,
conditional sums for the two windows); Python sees one row per touchpoint.
``model.normalised_measure`` and ``model.recency_weight`` are the reference the
expressions here mirror, and a test holds the two to each other.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Float,
    Select,
    Uuid,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.db.types import UTCDateTime
from backend.feedback.vocabulary import MeasureKind
from backend.health.model import HALF_LIFE, WINDOW
from backend.models import Feedback, HealthEvidence

_HALF_LIFE_DAYS = HALF_LIFE.total_seconds() / 86400
_WINDOW_DAYS = WINDOW.total_seconds() / 86400


def age_in_days(dialect: str, as_of: datetime) -> ColumnElement[Any]:
    moment = literal(as_of, UTCDateTime())
    if dialect == "postgresql":
        seconds = cast(func.extract("epoch", moment - Feedback.occurred_at), Float)
        return seconds / 86400.0
    return func.julianday(moment) - func.julianday(Feedback.occurred_at)


def recency_weight(age_in_days: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.power(0.5, age_in_days / _HALF_LIFE_DAYS)


def measure_value() -> ColumnElement[float]:
    value = cast(Feedback.measure_value, Float)
    return case(
        (Feedback.measure.in_([MeasureKind.CSAT, MeasureKind.RATING]), (value - 1.0) / 4.0),
        (Feedback.measure == MeasureKind.CES, (7.0 - value) / 6.0),
        (
            Feedback.measure == MeasureKind.NPS,
            case((value >= 9, 1.0), (value >= 7, 0.5), else_=0.0),
        ),
    )


def evidence_statement(
    dialect: str, workspace_id: UUID, as_of: datetime, touchpoints: Collection[UUID] | None
) -> Select[Any]:
    """SELECT touchpoint_id and the fourteen sums, for all touchpoints or the ones named."""
    age = age_in_days(dialect, as_of)
    current = Feedback.occurred_at > as_of - WINDOW
    previous = Feedback.occurred_at <= as_of - WINDOW
    measured = Feedback.measure.is_not(None) & Feedback.measure_value.is_not(None)
    felt = Feedback.sentiment.is_not(None)
    weight = recency_weight(age)
    previous_weight = recency_weight(age - _WINDOW_DAYS)
    satisfaction = measure_value()
    sentiment = (Feedback.sentiment + 1.0) / 2.0

    def sums(window: ColumnElement[bool], w: ColumnElement[float]) -> list[ColumnElement[Any]]:
        return [
            func.coalesce(func.sum(case((and_(window, measured), w))), 0.0),
            func.coalesce(func.sum(case((and_(window, measured), w * satisfaction))), 0.0),
            func.count(case((and_(window, measured), 1))),
            func.coalesce(func.sum(case((and_(window, felt), w))), 0.0),
            func.coalesce(func.sum(case((and_(window, felt), w * sentiment))), 0.0),
            func.count(case((and_(window, felt), 1))),
            func.count(case((and_(window, or_(measured, felt)), 1))),
        ]

    statement: Select[Any] = (
        select(Feedback.touchpoint_id, *sums(current, weight), *sums(previous, previous_weight))
        .where(
            Feedback.workspace_id == workspace_id,
            Feedback.touchpoint_id.is_not(None),
            Feedback.occurred_at > as_of - 2 * WINDOW,
            Feedback.occurred_at <= as_of,
        )
        .group_by(Feedback.touchpoint_id)
    )
    if touchpoints is not None:
        statement = statement.where(Feedback.touchpoint_id.in_(list(touchpoints)))
    return statement


COLUMNS = (
    "satisfaction_weight",
    "satisfaction_total",
    "satisfaction_count",
    "sentiment_weight",
    "sentiment_total",
    "sentiment_count",
    "items",
)


async def refresh(
    session: AsyncSession,
    workspace_id: UUID,
    as_of: datetime,
    touchpoints: Collection[UUID] | None = None,
) -> int:
    """Rewrite the evidence rows of the touchpoints named (None: every one); returns rows.

    One ``INSERT … SELECT``: the sums go from feedback to evidence without leaving
    the database.
    """
    if touchpoints is not None and not touchpoints:
        return 0
    dialect = session.get_bind().dialect.name
    forget = delete(HealthEvidence).where(HealthEvidence.workspace_id == workspace_id)
    if touchpoints is not None:
        forget = forget.where(HealthEvidence.id.in_(list(touchpoints)))
    await session.execute(forget)
    sums = evidence_statement(dialect, workspace_id, as_of, touchpoints)
    rows = sums.add_columns(
        literal(workspace_id, Uuid()).label("workspace_id"),
        literal(as_of, UTCDateTime()).label("as_of"),
    )
    names = ["id", *COLUMNS, *(f"previous_{c}" for c in COLUMNS), "workspace_id", "as_of"]
    written = await session.execute(insert(HealthEvidence).from_select(names, rows))
    return int(written.rowcount)  # type: ignore[attr-defined]
