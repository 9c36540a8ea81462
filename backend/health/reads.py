"""Reading stored health beyond one subject: an organization's portfolio, alerts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, paginate
from backend.health import model
from backend.health.recalculate import score_of
from backend.models import HealthAlert, HealthScore, HealthSubject, Workspace


async def portfolio_of(
    session: AsyncSession, organization_id: UUID
) -> tuple[model.Score, datetime] | None:
    """The mean of the workspace scores the session can see (its tenant scope decides)."""
    rows = (
        await session.scalars(
            select(HealthScore)
            .join(Workspace, Workspace.id == HealthScore.workspace_id)
            .where(
                Workspace.organization_id == organization_id,
                HealthScore.subject_type == HealthSubject.WORKSPACE,
            )
        )
    ).all()
    score = model.portfolio(score_of(row) for row in rows)
    if score is None:
        return None
    return score, max(row.computed_at for row in rows)


async def alerts_page(
    session: AsyncSession, workspace_id: UUID, first: int | None, after: str | None
) -> Page[HealthAlert]:
    return await paginate(
        session,
        select(HealthAlert).where(HealthAlert.workspace_id == workspace_id),
        keys=[HealthAlert.created_at, HealthAlert.id],
        first=first,
        after=after,
        descending=True,
    )
