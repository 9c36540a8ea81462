"""Mutations: recalculateHealth."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.health import service
from backend.models import HealthSubject
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.health.types import HealthScoreType
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import WORKSPACE_ADMIN, mutation
from graphql_schema.relay import parse_id


@strawberry.input
class RecalculateHealthInput:
    workspace_id: strawberry.ID


@strawberry.type
class RecalculateHealthPayload:
    health: HealthScoreType | None = strawberry.field(
        default=None, description="The workspace's score; null while it has no active map."
    )
    touchpoints: int | None = strawberry.field(default=None, description="Touchpoints scored.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class HealthMutations:
    @mutation(
        WORKSPACE_ADMIN,
        "Recompute every score of a workspace from all its feedback now, as the nightly "
        "pass does, and snapshot today's history.",
    )
    async def recalculate_health(
        self, info: Info, input: RecalculateHealthInput
    ) -> RecalculateHealthPayload:
        async def action(session: AsyncSession) -> RecalculateHealthPayload:
            workspace_id = parse_id(input.workspace_id, "Workspace", field="workspaceId")
            done = await service.recalculate_now(session, info.context.access, workspace_id)
            workspace = done.health.workspace
            return RecalculateHealthPayload(
                health=None
                if workspace is None
                else HealthScoreType.of(
                    workspace, utcnow(), workspace_id, workspace_id, HealthSubject.WORKSPACE
                ),
                touchpoints=len(done.health.touchpoints),
            )

        return await run_mutation(info, RecalculateHealthPayload, action)
