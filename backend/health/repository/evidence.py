"""Feedback summed into per-touchpoint evidence: one grouped SQL statement, any volume.

The database does the per-row work (recency weights, normalised measures,
conditional sums for the two windows); Python sees one row per touchpoint.
``model.normalised_measure`` and ``model.recency_weight`` are the reference the
expressions here mirror, and a test holds the two to each other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
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
    not_,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.db.types import UTCDateTime
from backend.health.model import HALF_LIFE, WINDOW
from backend.models import Feedback, HealthEvidence
from backend.vocabulary.feedback import MeasureKind

_HALF_LIFE_DAYS = HALF_LIFE.total_seconds() / 86400
_WINDOW_DAYS = WINDOW.total_seconds() / 86400


def age_in_days(dialect: str, as_of: datetime) -> ColumnElement[Any]:
    moment = literal(as_of, UTCDateTime())
    if dialect == "postgresql":
        seconds = cast(func.extract("epoch", moment - Feedback.occurred_at), Float)
        return seconds / 86400.0
    return func.julianday(moment) - func.julianday(Feedback.occurred_at)


def recency_weight(age_in_days: ColumnElement[float]) -> ColumnElement[float]:
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
    """SELECT touchpoint_id and the fourteen sums, for all touchpoints or the ones named.

    Each row's window, weight and normalised values are worked out once, in a subquery
    the planner may not fold into the sums (``OFFSET 0``): folded, the weight's
    ``power`` ran in each of the eight sums that use it, which was most of the
    statement's time.
    """
    age = age_in_days(dialect, as_of)
    current = Feedback.occurred_at > as_of - WINDOW
    per_row = select(
        Feedback.touchpoint_id,
        current.label("current"),
        # A row is in one window or the other: one weight, by its age in that window.
        case((current, recency_weight(age)), else_=recency_weight(age - _WINDOW_DAYS)).label(
            "weight"
        ),
        (Feedback.measure.is_not(None) & Feedback.measure_value.is_not(None)).label("measured"),
        measure_value().label("satisfaction"),
        ((Feedback.sentiment + 1.0) / 2.0).label("sentiment"),
    ).where(
        Feedback.workspace_id == workspace_id,
        Feedback.touchpoint_id.is_not(None),
        Feedback.occurred_at > as_of - 2 * WINDOW,
        Feedback.occurred_at <= as_of,
    )
    if touchpoints is not None:
        per_row = per_row.where(Feedback.touchpoint_id.in_(list(touchpoints)))
    row = per_row.offset(0).subquery("row")
    measured = row.c.measured
    felt = row.c.sentiment.is_not(None)

    def sums(window: ColumnElement[bool]) -> list[ColumnElement[Any]]:
        w = row.c.weight
        return [
            func.coalesce(func.sum(case((and_(window, measured), w))), 0.0),
            func.coalesce(func.sum(case((and_(window, measured), w * row.c.satisfaction))), 0.0),
            func.count(case((and_(window, measured), 1))),
            func.coalesce(func.sum(case((and_(window, felt), w))), 0.0),
            func.coalesce(func.sum(case((and_(window, felt), w * row.c.sentiment))), 0.0),
            func.count(case((and_(window, felt), 1))),
            func.count(case((and_(window, or_(measured, felt)), 1))),
        ]

    return select(row.c.touchpoint_id, *sums(row.c.current), *sums(not_(row.c.current))).group_by(
        row.c.touchpoint_id
    )


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

    The sums go from feedback to evidence without leaving the database: on SQLite the
    old rows are deleted and the new ones inserted by ``INSERT … SELECT``. On Postgres
    one statement updates the rows in place (an update that keeps its keys is not
    checked against the workspace's foreign key again, as each inserted row is) and
    deletes the rows of touchpoints left without feedback in either window.
    """
    if touchpoints is not None and not touchpoints:
        return 0
    dialect = session.get_bind().dialect.name
    sums = evidence_statement(dialect, workspace_id, as_of, touchpoints)
    rows = sums.add_columns(
        literal(workspace_id, Uuid()).label("workspace_id"),
        literal(as_of, UTCDateTime()).label("as_of"),
    )
    names = ["id", *COLUMNS, *(f"previous_{c}" for c in COLUMNS), "workspace_id", "as_of"]
    scope = [HealthEvidence.workspace_id == workspace_id]
    if touchpoints is not None:
        scope.append(HealthEvidence.id.in_(list(touchpoints)))
    if dialect == "postgresql":
        upsert = postgresql.insert(HealthEvidence).from_select(names, rows)
        fresh = (
            upsert.on_conflict_do_update(
                index_elements=[HealthEvidence.workspace_id, HealthEvidence.id],
                set_={
                    name: upsert.excluded[name]
                    for name in names
                    if name not in ("id", "workspace_id")
                },
            )
            .returning(HealthEvidence.id)
            .cte("fresh")
        )
        gone = (
            delete(HealthEvidence)
            .where(*scope, HealthEvidence.id.not_in(select(fresh.c.id)))
            .cte("gone")
        )
        written = await session.scalar(select(func.count()).select_from(fresh).add_cte(gone))
        return int(written or 0)
    await session.execute(delete(HealthEvidence).where(*scope))
    inserted = await session.execute(insert(HealthEvidence).from_select(names, rows))
    return int(inserted.rowcount)  # type: ignore[attr-defined]


async def rows_of(
    session: AsyncSession, workspace_id: UUID, touchpoints: Iterable[UUID]
) -> dict[UUID, HealthEvidence]:
    """The stored evidence of the touchpoints named that have any, by touchpoint."""
    return {
        row.id: row
        for row in (
            await session.scalars(
                select(HealthEvidence).where(
                    HealthEvidence.workspace_id == workspace_id,
                    HealthEvidence.id.in_(list(touchpoints)),
                )
            )
        ).all()
    }


# Per component (satisfaction, sentiment): each touchpoint's factor (points per unit of
# weighted pull) and its recency-weighted mean. See ``backend.health.explain``.
Pulls = Mapping[str, tuple[Mapping[UUID, float], Mapping[UUID, float]]]


async def strongest_influences(
    session: AsyncSession,
    workspace_id: UUID,
    touchpoints: Iterable[UUID],
    pulls: Pulls,
    as_of: datetime,
    limit: int,
) -> list[tuple[UUID, UUID, float]]:
    """(feedback id, touchpoint id, points) of the current window's items that move the
    score most, either way, ranked by the database."""
    values = {
        "satisfaction": (measure_value(), Feedback.measure_value.is_not(None)),
        "sentiment": ((Feedback.sentiment + 1.0) / 2.0, Feedback.sentiment.is_not(None)),
    }
    weight_now = recency_weight(age_in_days(session.get_bind().dialect.name, as_of))
    terms: list[ColumnElement[float]] = []
    for name, (factor, mean) in pulls.items():
        value, present = values[name]
        terms.append(
            case(
                (
                    present,
                    cast(case(dict(factor), value=Feedback.touchpoint_id, else_=0.0), Float)
                    * weight_now
                    * (
                        value
                        - cast(case(dict(mean), value=Feedback.touchpoint_id, else_=0.0), Float)
                    ),
                ),
                else_=0.0,
            )
        )
    if not terms:
        return []
    influence = sum(terms[1:], terms[0]).label("influence")
    rows = (
        await session.execute(
            select(Feedback.id, Feedback.touchpoint_id, influence)
            .where(
                Feedback.workspace_id == workspace_id,
                Feedback.touchpoint_id.in_(list(touchpoints)),
                Feedback.occurred_at > as_of - WINDOW,
                Feedback.occurred_at <= as_of,
            )
            .order_by(func.abs(influence).desc(), Feedback.id)
            .limit(limit)
        )
    ).all()
    return [(r.id, r.touchpoint_id, float(r.influence)) for r in rows if r.influence]
