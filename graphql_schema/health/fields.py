"""Health's fields on Workspace and Organization: scores, history, thresholds and alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import strawberry

from backend.db.pagination import PageRequest
from backend.health.reads import alerts_page, portfolio_of
from graphql_schema.context import Info
from graphql_schema.health.guidance import target_for
from graphql_schema.health.history import health_history_field
from graphql_schema.health.types import (
    HealthAlertType,
    HealthScoreType,
    HealthSettingsType,
    scores_of,
    thresholds_for,
)
from graphql_schema.relations import relation
from graphql_schema.relay import Connection

if TYPE_CHECKING:
    from graphql_schema.dataloaders import Loaders
    from graphql_schema.tenancy.types import OrganizationType, WorkspaceType


@strawberry.field(description="Its health: the mean of its active current-state maps.")
async def workspace_health(root: WorkspaceType, info: Info) -> HealthScoreType | None:
    return (await workspaces_health(info.context.loaders, [root]))[0]


@relation(("Workspace", "health"))
async def workspaces_health(
    loaders: Loaders, workspaces: list[WorkspaceType]
) -> list[HealthScoreType | None]:
    return await scores_of(loaders, [w.id for w in workspaces])


workspace_health_history = health_history_field()


@strawberry.field(description="Its health thresholds (defaults until an admin sets them).")
async def health_settings(root: WorkspaceType, info: Info) -> HealthSettingsType:
    workspace_id = UUID(root.id)
    return HealthSettingsType.of(
        await thresholds_for(info, workspace_id), await target_for(info, workspace_id)
    )


@strawberry.field(description="Scores that crossed the alert threshold, newest first.")
async def health_alerts(
    root: WorkspaceType,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[HealthAlertType]:
    async with info.context.read() as session:
        page = await alerts_page(session, UUID(root.id), PageRequest(first, after, last, before))
    return Connection.from_page(page, HealthAlertType.from_model)


@strawberry.field(
    description="The agency portfolio: the mean health of the workspaces you can reach "
    "(null before any has a score)."
)
async def organization_health(root: OrganizationType, info: Info) -> HealthScoreType | None:
    async with info.context.read() as session:
        found = await portfolio_of(session, UUID(root.id))
    return None if found is None else HealthScoreType.of(found[0], found[1], UUID(root.id))
