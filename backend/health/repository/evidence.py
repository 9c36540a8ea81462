"""Feedback summed into evidence per subject and metric: one grouped SQL statement, any volume.

A feedback item counts for the most specific subject it is placed on: its touchpoint,
else its stage, else its map. Per (subject, metric) and window the database sums the
item indexes' count, total and total of squares (``backend.measures.sql.item_index``
for answers; ``(s + 1) / 2 x 100`` for texts the scorer SCORED, never for UNSCORED or
PENDING ones); Python sees one row per subject, its metrics side by side (``COLUMNS``).
Both windows are plain, unweighted 90 days: a touchpoint's CSAT here is the CSAT a
survey tool shows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Select,
    Uuid,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.db.types import UTCDateTime
from backend.health.model import WINDOW, Metric
from backend.measures import sql as measures
from backend.models import Feedback, HealthEvidence, HealthSubject
from backend.vocabulary.feedback import SentimentStatus

SUMS = ("n", "total", "total_sq", "previous_n", "previous_total", "previous_total_sq")


def column_of(metric: Metric, name: str) -> str:
    """The evidence column of one metric's sum: ``csat_n``, ``nps_previous_total``, …"""
    return f"{metric.value.lower()}_{name}"


COLUMNS = tuple(column_of(metric, name) for metric in Metric for name in SUMS)


def subject() -> ColumnElement[Any]:
    """The most specific subject an item is placed on."""
    return func.coalesce(Feedback.touchpoint_id, Feedback.stage_id, Feedback.journey_map_id)


def level() -> ColumnElement[Any]:
    return case(
        (Feedback.touchpoint_id.is_not(None), literal(HealthSubject.TOUCHPOINT.value)),
        (Feedback.stage_id.is_not(None), literal(HealthSubject.STAGE.value)),
        else_=literal(HealthSubject.JOURNEY_MAP.value),
    )


def sentiment_index() -> ColumnElement[float | None]:
    return (Feedback.sentiment + 1.0) * 50.0


def scored_text() -> ColumnElement[bool]:
    return and_(
        Feedback.sentiment_status == SentimentStatus.SCORED, Feedback.sentiment.is_not(None)
    )


def evidence_statement(
    workspace_id: UUID, as_of: datetime, touchpoints: Collection[UUID] | None
) -> Select[Any]:
    """SELECT subject id, level and every metric's six sums (``COLUMNS``), for every
    subject, or for the touchpoints named and every subject above touchpoints.

    One scan of the feedback, grouped by subject; answers count for their measure
    kind's columns, scored texts for the SENTIMENT columns.
    """
    start = literal(as_of - 2 * WINDOW, UTCDateTime())
    middle = literal(as_of - WINDOW, UTCDateTime())
    scope = [
        Feedback.workspace_id == workspace_id,
        subject().is_not(None),
        Feedback.occurred_at > start,
        Feedback.occurred_at <= literal(as_of, UTCDateTime()),
        or_(
            and_(Feedback.measure.is_not(None), Feedback.measure_value.is_not(None)), scored_text()
        ),
    ]
    if touchpoints is not None:
        scope.append(
            or_(Feedback.touchpoint_id.in_(list(touchpoints)), Feedback.touchpoint_id.is_(None))
        )
    # Each item's subject, window and values once, in a subquery the planner may not
    # fold into the sums (``OFFSET 0``): folded, the item index's CASE ran in each of
    # the six sums that use it.
    row = (
        select(
            subject().label("subject"),
            level().label("level"),
            Feedback.measure.label("measure"),
            (Feedback.occurred_at > middle).label("current"),
            measures.item_index().label("answer"),
            case((scored_text(), sentiment_index())).label("felt"),
        )
        .outerjoin(*measures.join_definition())
        .where(*scope)
        .offset(0)
        .subquery("row")
    )

    # One row per subject, each metric's sums in its own columns: every aggregate is
    # filtered to its metric and window, so one grouping by subject does it all (a
    # grouping by subject and measure kind, then a pivot, sorted the items twice).
    columns = []
    value: ColumnElement[Any]
    kind: ColumnElement[bool]
    for metric in Metric:
        if metric is Metric.SENTIMENT:
            value, kind = row.c.felt, row.c.felt.is_not(None)
        else:
            value, kind = (
                row.c.answer,
                and_(row.c.measure == metric.value, row.c.answer.is_not(None)),
            )
        for window, names in ((row.c.current, SUMS[:3]), (~row.c.current, SUMS[3:])):
            n, total, total_sq = names
            counted = and_(kind, window)
            columns += [
                func.count().filter(counted).label(column_of(metric, n)),
                func.coalesce(func.sum(value).filter(counted), 0.0).label(column_of(metric, total)),
                func.coalesce(func.sum(value * value).filter(counted), 0.0).label(
                    column_of(metric, total_sq)
                ),
            ]
    counted_any = or_(row.c.answer.is_not(None), row.c.felt.is_not(None))
    return (
        select(row.c.subject, func.min(row.c.level).label("level"), *columns)
        .group_by(row.c.subject)
        .having(func.count().filter(counted_any) > 0)
    )


# A subject's evidence as the statements return it: subject id, level, then every
# metric's six sums in ``COLUMNS`` order (``backend.health.repository.facts`` reads it).
EvidenceRow = Sequence[Any]


async def refresh(
    session: AsyncSession,
    workspace_id: UUID,
    as_of: datetime,
    touchpoints: Collection[UUID] | None = None,
) -> list[EvidenceRow]:
    """Rewrite the evidence of the touchpoints named (None: every subject); returns the
    rows written, so that a full pass, which writes every row, need not read them back.

    Stages and maps are refreshed by every pass: feedback placed on them alone is
    rare, and a request names touchpoints only. The sums go from feedback to evidence
    without leaving the database: on SQLite the old rows are deleted and the new ones
    inserted by ``INSERT … SELECT``. On Postgres one statement updates the rows in
    place (an update that keeps its keys is not checked against the workspace's
    foreign key again, as each inserted row is) and deletes the rows of subjects left
    without evidence in either window.
    """
    sums = evidence_statement(workspace_id, as_of, touchpoints).subquery("sums")
    rows = select(
        sums.c.subject,
        sums.c.level,
        *(sums.c[name] for name in COLUMNS),
        literal(workspace_id, Uuid()).label("workspace_id"),
        literal(as_of, UTCDateTime()).label("as_of"),
    )
    names = ["id", "level", *COLUMNS, "workspace_id", "as_of"]
    returned = [HealthEvidence.id, HealthEvidence.level, *(_stored(name) for name in COLUMNS)]
    scope: list[ColumnElement[bool]] = [HealthEvidence.workspace_id == workspace_id]
    if touchpoints is not None:
        scope.append(
            or_(
                HealthEvidence.id.in_(list(touchpoints)),
                HealthEvidence.level != HealthSubject.TOUCHPOINT,
            )
        )
    if session.get_bind().dialect.name == "postgresql":
        upsert = postgresql.insert(HealthEvidence).from_select(names, rows)
        fresh = (
            upsert.on_conflict_do_update(
                index_elements=[HealthEvidence.workspace_id, HealthEvidence.id],
                set_={name: upsert.excluded[name] for name in ("level", *COLUMNS, "as_of")},
            )
            .returning(*returned)
            .cte("fresh")
        )
        # NOT IN over the fresh ids is hashed once; a correlated NOT EXISTS was planned as
        # a nested loop over both sets whenever the table's statistics were stale.
        gone = (
            delete(HealthEvidence)
            .where(*scope, HealthEvidence.id.not_in(select(fresh.c.id)))
            .cte("gone")
        )
        written = await session.execute(select(*fresh.c).add_cte(gone))
        return list(written.all())
    await session.execute(delete(HealthEvidence).where(*scope))
    inserted = await session.execute(
        insert(HealthEvidence).from_select(names, rows).returning(*returned)
    )
    return list(inserted.all())


def _stored(name: str) -> Any:
    return HealthEvidence.__table__.c[name]


async def computed(session: AsyncSession, workspace_id: UUID, as_of: datetime) -> list[EvidenceRow]:
    """Every subject's evidence as of a moment, straight from feedback (nothing stored)."""
    found = await session.execute(evidence_statement(workspace_id, as_of, None))
    return list(found.all())


async def stored(session: AsyncSession, workspace_id: UUID) -> list[EvidenceRow]:
    """Every subject's stored evidence, as ``computed`` gives it."""
    found = await session.execute(
        select(HealthEvidence.id, HealthEvidence.level, *(_stored(name) for name in COLUMNS)).where(
            HealthEvidence.workspace_id == workspace_id
        )
    )
    return list(found.all())
