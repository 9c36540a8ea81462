"""Metrics' SQL: metrics, their values, and what links to them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, PageRequest, paginate
from backend.models import Initiative, JourneyMap, Metric, MetricValue, Stage, Touchpoint


async def metric(session: AsyncSession, metric_id: UUID) -> Metric | None:
    """The metric, if the session's tenant scope reaches it."""
    return await session.scalar(select(Metric).where(Metric.id == metric_id))


async def journey_map_is_live(session: AsyncSession, workspace_id: UUID, map_id: UUID) -> bool:
    found = await session.scalar(
        select(JourneyMap.id).where(
            JourneyMap.workspace_id == workspace_id,
            JourneyMap.id == map_id,
            JourneyMap.deleted_at.is_(None),
        )
    )
    return found is not None


async def stage_is_live(session: AsyncSession, workspace_id: UUID, stage_id: UUID) -> bool:
    """The stage exists here, on a map not deleted."""
    found = await session.scalar(
        select(Stage.id)
        .where(Stage.workspace_id == workspace_id, Stage.id == stage_id)
        .join(JourneyMap, JourneyMap.id == Stage.journey_map_id)
        .where(JourneyMap.deleted_at.is_(None))
    )
    return found is not None


async def touchpoint_is_live(
    session: AsyncSession, workspace_id: UUID, touchpoint_id: UUID
) -> bool:
    """The touchpoint exists here, on a map not deleted."""
    found = await session.scalar(
        select(Touchpoint.id)
        .where(Touchpoint.workspace_id == workspace_id, Touchpoint.id == touchpoint_id)
        .join(JourneyMap, JourneyMap.id == Touchpoint.journey_map_id)
        .where(JourneyMap.deleted_at.is_(None))
    )
    return found is not None


async def save(session: AsyncSession, row: Metric) -> None:
    session.add(row)
    await session.flush()


async def delete_metric(session: AsyncSession, row: Metric) -> None:
    """The metric and its values; initiatives aiming at it keep no target."""
    await session.execute(
        delete(MetricValue).where(
            MetricValue.workspace_id == row.workspace_id, MetricValue.metric_id == row.id
        )
    )
    for initiative in (
        await session.scalars(
            select(Initiative).where(
                Initiative.workspace_id == row.workspace_id,
                Initiative.target_metric_id == row.id,
            )
        )
    ).all():
        initiative.target_metric_id = None
    await session.delete(row)
    await session.flush()


async def values_at(
    session: AsyncSession, row: Metric, moments: Collection[datetime]
) -> dict[datetime, MetricValue]:
    """The metric's values recorded at these moments, by moment."""
    return {
        value.observed_at: value
        for value in (
            await session.scalars(
                select(MetricValue).where(
                    MetricValue.workspace_id == row.workspace_id,
                    tuple_(MetricValue.metric_id, MetricValue.observed_at).in_(
                        [(row.id, at) for at in moments]
                    ),
                )
            )
        ).all()
    }


async def save_values(session: AsyncSession, new: Iterable[MetricValue]) -> None:
    """Add the new values; changes to loaded ones are written with them."""
    session.add_all(new)
    await session.flush()


async def metrics_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Metric]:
    return (await session.scalars(select(Metric).where(Metric.id.in_(list(ids))))).all()


async def latest_values(
    session: AsyncSession, metric_ids: Iterable[UUID]
) -> dict[UUID, MetricValue]:
    """Each metric's most recent observation, for many metrics in one statement."""
    ids = list(metric_ids)
    newest = (
        select(MetricValue.metric_id, func.max(MetricValue.observed_at).label("at"))
        .where(MetricValue.metric_id.in_(ids))
        .group_by(MetricValue.metric_id)
        .subquery()
    )
    rows = (
        await session.scalars(
            select(MetricValue).join(
                newest,
                and_(
                    MetricValue.metric_id == newest.c.metric_id,
                    MetricValue.observed_at == newest.c.at,
                ),
            )
        )
    ).all()
    return {row.metric_id: row for row in rows}


async def metrics_page(
    session: AsyncSession, workspace_id: UUID, page: PageRequest
) -> Page[Metric]:
    return await paginate(
        session,
        select(Metric).where(Metric.workspace_id == workspace_id),
        keys=[Metric.name, Metric.id],
        page=page,
    )


async def values_page(
    session: AsyncSession,
    metric_id: UUID,
    *,
    starts: datetime | None,
    ends: datetime | None,
    page: PageRequest,
) -> Page[MetricValue]:
    statement = select(MetricValue).where(MetricValue.metric_id == metric_id)
    if starts is not None:
        statement = statement.where(MetricValue.observed_at >= starts)
    if ends is not None:
        statement = statement.where(MetricValue.observed_at < ends)
    return await paginate(
        session,
        statement,
        keys=[MetricValue.observed_at, MetricValue.id],
        page=page,
    )
