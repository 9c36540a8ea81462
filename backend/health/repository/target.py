"""A workspace's health target, stored with its other health settings."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.health.repository.alerts import settings
from backend.models import HealthSettings


async def target_score(session: AsyncSession, workspace_id: UUID) -> float | None:
    row = await settings(session, workspace_id)
    return None if row is None else row.target_score


async def save_target(
    session: AsyncSession,
    workspace_id: UUID,
    target: float | None,
    *,
    stale_after_days: int,
    sharp_drop_points: float,
    alert_below: float | None,
) -> None:
    """Set the target; a workspace with no settings row yet gets one with these defaults."""
    row = await settings(session, workspace_id)
    if row is None:
        row = HealthSettings(
            workspace_id=workspace_id,
            id=workspace_id,
            alert_below=alert_below,
            stale_after_days=stale_after_days,
            sharp_drop_points=sharp_drop_points,
        )
        session.add(row)
    row.target_score = target
    await session.flush()
