"""A workspace's health settings, the alerts a pass raises, and map reviews."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, PageRequest, paginate
from backend.models import AlertKind, HealthAlert, HealthSettings, JourneyMap, MapReview


async def settings(session: AsyncSession, workspace_id: UUID) -> HealthSettings | None:
    return await session.get(HealthSettings, (workspace_id, workspace_id))


async def save_settings(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    alert_below: float | None,
    stale_after_days: int,
    sharp_drop_points: float,
) -> None:
    row = await settings(session, workspace_id)
    if row is None:
        row = HealthSettings(workspace_id=workspace_id, id=workspace_id)
        session.add(row)
    row.alert_below = alert_below
    row.stale_after_days = stale_after_days
    row.sharp_drop_points = sharp_drop_points
    await session.flush()


async def add_alerts(session: AsyncSession, alerts: Sequence[HealthAlert]) -> None:
    session.add_all(alerts)
    await session.flush()


async def last_alert_kinds(
    session: AsyncSession, workspace_id: UUID, subject_ids: Sequence[UUID]
) -> dict[UUID, AlertKind]:
    """The kind of each subject's latest alert, for the subjects that have one."""
    rows = await session.execute(
        select(HealthAlert.subject_id, HealthAlert.kind)
        .where(HealthAlert.workspace_id == workspace_id, HealthAlert.subject_id.in_(subject_ids))
        .order_by(HealthAlert.created_at, HealthAlert.id)
    )
    return {row.subject_id: row.kind for row in rows}  # oldest first: the latest wins


def _alerts_of(workspace_id: UUID) -> Select[HealthAlert]:
    return select(HealthAlert).where(HealthAlert.workspace_id == workspace_id)


async def alerts_page(
    session: AsyncSession, workspace_id: UUID, page: PageRequest
) -> Page[HealthAlert]:
    return await paginate(
        session,
        _alerts_of(workspace_id),
        keys=[HealthAlert.created_at, HealthAlert.id],
        page=page,
        descending=True,
    )


async def journey_map(session: AsyncSession, workspace_id: UUID, map_id: UUID) -> JourneyMap | None:
    return await session.get(JourneyMap, (workspace_id, map_id))


async def live_journey_map(session: AsyncSession, map_id: UUID) -> JourneyMap | None:
    """A map not deleted, in whichever workspace of the session's scope holds it."""
    return await session.scalar(
        select(JourneyMap).where(JourneyMap.id == map_id, JourneyMap.deleted_at.is_(None))
    )


async def review(session: AsyncSession, workspace_id: UUID, map_id: UUID) -> MapReview | None:
    return await session.get(MapReview, (workspace_id, map_id))


async def save_review(session: AsyncSession, review: MapReview) -> None:
    session.add(review)
    await session.flush()


async def alert(session: AsyncSession, workspace_id: UUID, alert_id: UUID) -> HealthAlert | None:
    return await session.scalar(
        select(HealthAlert).where(
            HealthAlert.workspace_id == workspace_id, HealthAlert.id == alert_id
        )
    )
