"""Reading stored health beyond one subject: an organization's portfolio, alerts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page
from backend.health import model
from backend.health.repository import alerts, scores
from backend.models import HealthAlert


async def portfolio_of(
    session: AsyncSession, organization_id: UUID
) -> tuple[model.Score, datetime] | None:
    """The mean of the workspace scores the session can see (its tenant scope decides)."""
    rows = await scores.workspace_scores_of_organization(session, organization_id)
    score = model.portfolio(scores.score_of(row) for row in rows)
    if score is None:
        return None
    return score, max(row.computed_at for row in rows)


async def alerts_page(
    session: AsyncSession, workspace_id: UUID, first: int | None, after: str | None
) -> Page[HealthAlert]:
    return await alerts.alerts_page(session, workspace_id, first, after)
