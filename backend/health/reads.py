"""Reading stored health: a score in the model's terms, an organization's portfolio, alerts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, PageRequest
from backend.health import model
from backend.health.repository import alerts, scores
from backend.models import HealthAlert, HealthScore


def score_of(row: HealthScore) -> model.Score:
    """A stored score back into the model's terms, for reads and explanations."""
    return model.Score(
        state=model.State(row.state),
        score=row.score,
        low=row.low,
        high=row.high,
        standard_error=row.standard_error,
        components=scores.components_of(row.components),
        sample_size=row.sample_size,
        previous=row.previous_score,
        previous_sample_size=row.previous_sample_size,
        scored_parts=row.scored_parts,
        parts=row.parts,
    )


async def portfolio_of(
    session: AsyncSession, organization_id: UUID
) -> tuple[model.Score, datetime] | None:
    """The mean of the scored workspaces the session can see (its tenant scope decides)."""
    rows = await scores.workspace_scores_of_organization(session, organization_id)
    score = model.portfolio(score_of(row) for row in rows)
    if score is None:
        return None
    return score, max(row.computed_at for row in rows)


async def alerts_page(
    session: AsyncSession, workspace_id: UUID, page: PageRequest
) -> Page[HealthAlert]:
    return await alerts.alerts_page(session, workspace_id, page)


async def alert_by_id(
    session: AsyncSession, workspace_id: UUID, alert_id: UUID
) -> HealthAlert | None:
    return await alerts.alert(session, workspace_id, alert_id)
