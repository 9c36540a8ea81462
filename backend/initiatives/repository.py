"""Initiatives' SQL: initiatives, what they link to, and the feedback their outcome reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, PageRequest, paginate
from backend.measures import sql
from backend.measures.stats import Moments
from backend.models import (
    Feedback,
    Initiative,
    JourneyMap,
    Metric,
    MetricValue,
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


@dataclass(frozen=True)
class ItemSums:
    """Measured answers of one touchpoint to one survey in one window."""

    touchpoint_id: UUID
    after: bool  # False: the window before shipping
    survey: str  # the survey definition's id, or the measure kind without one
    moments: Moments


async def item_sums(
    session: AsyncSession, workspace_id: UUID, starts: datetime, split: datetime, ends: datetime
) -> list[ItemSums]:
    """n, Σ and Σ² of the item index (``backend.measures``) of every measured answer
    placed on a touchpoint, per touchpoint, window and survey: before is
    ``(starts, split]``, after ``(split, ends]``. Sentiment is not read."""
    index = sql.item_index()
    after = case((Feedback.occurred_at > split, True), else_=False)
    rows = await session.execute(
        select(
            Feedback.touchpoint_id,
            after,
            Feedback.measure,
            Feedback.survey_definition_id,
            func.count(),
            func.sum(index),
            func.sum(index * index),
        )
        .outerjoin(*sql.join_definition())
        .where(
            Feedback.workspace_id == workspace_id,
            Feedback.touchpoint_id.is_not(None),
            Feedback.measure.is_not(None),
            Feedback.measure_value.is_not(None),
            Feedback.occurred_at > starts,
            Feedback.occurred_at <= ends,
        )
        .group_by(Feedback.touchpoint_id, after, Feedback.measure, Feedback.survey_definition_id)
    )
    return [
        ItemSums(
            touchpoint_id,
            bool(is_after),
            str(definition_id) if definition_id else str(measure),
            # Postgres sums come back as Decimal, SQLite's as float.
            Moments(int(n), float(total or 0), float(total_sq or 0)),
        )
        for touchpoint_id, is_after, measure, definition_id, n, total, total_sq in rows
    ]


async def live_touchpoint_ids(session: AsyncSession, workspace_id: UUID) -> set[UUID]:
    """Every touchpoint of the workspace on a map not deleted."""
    return set(
        (
            await session.scalars(
                select(Touchpoint.id)
                .join(JourneyMap, JourneyMap.id == Touchpoint.journey_map_id)
                .where(JourneyMap.deleted_at.is_(None), Touchpoint.workspace_id == workspace_id)
            )
        ).all()
    )


async def shipped_between(
    session: AsyncSession, workspace_id: UUID, starts: datetime, ends: datetime
) -> Sequence[Initiative]:
    """Initiatives of the workspace shipped in ``(starts, ends]``."""
    return (
        await session.scalars(
            select(Initiative).where(
                Initiative.workspace_id == workspace_id,
                Initiative.shipped_at > starts,
                Initiative.shipped_at <= ends,
            )
        )
    ).all()


async def metric_values(
    session: AsyncSession, workspace_id: UUID, metric_id: UUID, starts: datetime, ends: datetime
) -> list[tuple[datetime, float]]:
    """The metric's values observed in ``(starts, ends]``, oldest first."""
    rows = await session.execute(
        select(MetricValue.observed_at, MetricValue.value)
        .where(
            MetricValue.workspace_id == workspace_id,
            MetricValue.metric_id == metric_id,
            MetricValue.observed_at > starts,
            MetricValue.observed_at <= ends,
        )
        .order_by(MetricValue.observed_at)
    )
    return [(at, float(value)) for at, value in rows]


async def initiatives_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Initiative]:
    return (await session.scalars(select(Initiative).where(Initiative.id.in_(list(ids))))).all()


async def initiatives_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    status: InitiativeStatus | None,
    order: InitiativeOrder,
    page: PageRequest,
) -> Page[Initiative]:
    statement = select(Initiative).where(Initiative.workspace_id == workspace_id)
    if status is not None:
        statement = statement.where(Initiative.status == status)
    keys = (
        [Initiative.priority, Initiative.id]
        if order is InitiativeOrder.PRIORITY
        else [Initiative.updated_at, Initiative.id]
    )
    return await paginate(session, statement, keys=keys, page=page, descending=True)
