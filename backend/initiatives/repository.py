"""Initiatives' SQL: initiatives, what they link to, and the feedback their outcome reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.db.pagination import Page, paginate
from backend.health.model import COMPONENT_WEIGHTS
from backend.health.repository.evidence import measure_value
from backend.models import (
    Feedback,
    Initiative,
    JourneyMap,
    Metric,
    OrganizationMembership,
    PainPoint,
    Touchpoint,
    Workspace,
    WorkspaceMembership,
)
from backend.vocabulary.initiatives import InitiativeOrder, InitiativeStatus


async def for_update(session: AsyncSession, initiative_id: UUID) -> Initiative | None:
    """The initiative, locked for this transaction, if the session's scope reaches it."""
    return await session.scalar(
        select(Initiative).where(Initiative.id == initiative_id).with_for_update()
    )


async def save(session: AsyncSession, initiative: Initiative) -> None:
    session.add(initiative)
    await session.flush()


async def delete(session: AsyncSession, initiative: Initiative) -> None:
    await session.delete(initiative)
    await session.flush()


async def live_touchpoints(
    session: AsyncSession, workspace_id: UUID, ids: Collection[UUID]
) -> set[UUID]:
    """Those of ``ids`` that are touchpoints of this workspace on maps not deleted."""
    return set(
        (
            await session.scalars(
                select(Touchpoint.id)
                .join(JourneyMap, JourneyMap.id == Touchpoint.journey_map_id)
                .where(JourneyMap.deleted_at.is_(None))
                .where(Touchpoint.workspace_id == workspace_id, Touchpoint.id.in_(ids))
            )
        ).all()
    )


async def pain_points(
    session: AsyncSession, workspace_id: UUID, ids: Collection[UUID]
) -> set[UUID]:
    """Those of ``ids`` that are pain points of this workspace."""
    return set(
        (
            await session.scalars(
                select(PainPoint.id).where(
                    PainPoint.workspace_id == workspace_id, PainPoint.id.in_(ids)
                )
            )
        ).all()
    )


async def metric_exists(session: AsyncSession, workspace_id: UUID, metric_id: UUID) -> bool:
    found = await session.scalar(
        select(Metric.id).where(Metric.workspace_id == workspace_id, Metric.id == metric_id)
    )
    return bool(found)


async def is_workspace_member(session: AsyncSession, workspace_id: UUID, user_id: UUID) -> bool:
    found = await session.scalar(
        select(WorkspaceMembership.id).where(
            WorkspaceMembership.workspace_id == workspace_id,
            WorkspaceMembership.user_id == user_id,
        )
    )
    return bool(found)


async def organization_role(session: AsyncSession, workspace_id: UUID, user_id: UUID) -> str | None:
    """The user's role in the organization that holds the workspace, if any."""
    return await session.scalar(
        select(OrganizationMembership.role)
        .join(Workspace, Workspace.organization_id == OrganizationMembership.organization_id)
        .where(Workspace.id == workspace_id, OrganizationMembership.user_id == user_id)
    )


async def touchpoints_of_pain_points(
    session: AsyncSession, workspace_id: UUID, ids: Collection[UUID]
) -> set[UUID]:
    return set(
        (
            await session.scalars(
                select(PainPoint.touchpoint_id).where(
                    PainPoint.workspace_id == workspace_id, PainPoint.id.in_(ids)
                )
            )
        ).all()
    )


# Per window: the feedback items counted, their mean experience and mean square.
WindowStats = tuple[int, float | None, float | None]


async def experience_stats(
    session: AsyncSession,
    workspace_id: UUID,
    touchpoints: Collection[UUID],
    before: tuple[datetime, datetime],
    after: tuple[datetime, datetime],
) -> tuple[WindowStats, WindowStats]:
    """Each item's experience on 0..100 (satisfaction and sentiment blended by their
    weights in the health score), summed over the two windows (each ``(start, end]``)."""
    satisfaction = measure_value()
    sentiment = (Feedback.sentiment + 1.0) / 2.0
    w_sat, w_sent = COMPONENT_WEIGHTS["satisfaction"], COMPONENT_WEIGHTS["sentiment"]
    measured, felt = Feedback.measure_value.is_not(None), Feedback.sentiment.is_not(None)
    experience = 100.0 * case(
        (and_(measured, felt), (w_sat * satisfaction + w_sent * sentiment) / (w_sat + w_sent)),
        (measured, satisfaction),
        else_=sentiment,
    )
    in_before = and_(Feedback.occurred_at > before[0], Feedback.occurred_at <= before[1])
    in_after = and_(Feedback.occurred_at > after[0], Feedback.occurred_at <= after[1])

    def stats(window: ColumnElement[bool]) -> list[ColumnElement[Any]]:
        return [
            func.count(case((window, 1))),
            func.avg(case((window, experience))),
            func.avg(case((window, experience * experience))),
        ]

    row = (
        await session.execute(
            select(*stats(in_before), *stats(in_after)).where(
                Feedback.workspace_id == workspace_id,
                Feedback.touchpoint_id.in_(list(touchpoints)),
                measured | felt,
                Feedback.occurred_at > before[0],
                Feedback.occurred_at <= after[1],
            )
        )
    ).one()
    return _stats(row[0], row[1], row[2]), _stats(row[3], row[4], row[5])


def _stats(
    count: int | None, mean: float | Decimal | None, mean_square: float | Decimal | None
) -> WindowStats:
    # Postgres averages come back as Decimal, SQLite's as float.
    return (
        int(count or 0),
        None if mean is None else float(mean),
        None if mean_square is None else float(mean_square),
    )


async def initiatives_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Initiative]:
    return (await session.scalars(select(Initiative).where(Initiative.id.in_(list(ids))))).all()


async def initiatives_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    status: InitiativeStatus | None,
    order: InitiativeOrder,
    first: int | None,
    after: str | None,
) -> Page[Initiative]:
    statement = select(Initiative).where(Initiative.workspace_id == workspace_id)
    if status is not None:
        statement = statement.where(Initiative.status == status)
    keys = (
        [Initiative.priority, Initiative.id]
        if order is InitiativeOrder.PRIORITY
        else [Initiative.updated_at, Initiative.id]
    )
    return await paginate(session, statement, keys=keys, first=first, after=after, descending=True)
