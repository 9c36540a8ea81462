"""Mutations: recalculateHealth, updateHealthSettings, setHealthTarget, markJourneyMapReviewed."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.health import alerts, service, target
from backend.health.commands import MarkReviewed, SetHealthTarget, UpdateThresholds
from backend.models import HealthSubject
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.health.types import HealthScoreType, HealthSettingsType, StalenessType
from graphql_schema.mutations import run_mutation
from graphql_schema.partial import sent, sent_or_null
from graphql_schema.permissions import EDITOR, WORKSPACE_ADMIN, mutation
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


@strawberry.input(description="Send only what changes; alertBelow: null turns alerts off.")
class UpdateHealthSettingsInput:
    workspace_id: strawberry.ID
    alert_below: float | None = strawberry.UNSET
    stale_after_days: int | None = strawberry.UNSET
    sharp_drop_points: float | None = strawberry.UNSET

    def to_command(self) -> UpdateThresholds:
        return UpdateThresholds(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspace_id"),
            alert_below=sent_or_null(self.alert_below),
            stale_after_days=sent(self.stale_after_days, "stale_after_days"),
            sharp_drop_points=sent(self.sharp_drop_points, "sharp_drop_points"),
        )


@strawberry.type
class UpdateHealthSettingsPayload:
    settings: HealthSettingsType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="targetScore: null clears the target.")
class SetHealthTargetInput:
    workspace_id: strawberry.ID
    target_score: float | None

    def to_command(self) -> SetHealthTarget:
        return SetHealthTarget(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspace_id"),
            target_score=self.target_score,
        )


@strawberry.type
class SetHealthTargetPayload:
    settings: HealthSettingsType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class MarkJourneyMapReviewedInput:
    id: strawberry.ID
    note: str = ""

    def to_command(self) -> MarkReviewed:
        return MarkReviewed(parse_id(self.id, "JourneyMap", field="id"), self.note)


@strawberry.type
class MarkJourneyMapReviewedPayload:
    staleness: StalenessType | None = None
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
            workspace_id = parse_id(input.workspace_id, "Workspace", field="workspace_id")
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

    @mutation(WORKSPACE_ADMIN, "Set the workspace's alert threshold and staleness rules.")
    async def update_health_settings(
        self, info: Info, input: UpdateHealthSettingsInput
    ) -> UpdateHealthSettingsPayload:
        async def action(session: AsyncSession) -> UpdateHealthSettingsPayload:
            command = input.to_command()
            found = await alerts.update_thresholds(session, info.context.access, command)
            aim = await target.set_target_of(session, command.workspace_id)
            return UpdateHealthSettingsPayload(settings=HealthSettingsType.of(found, aim))

        return await run_mutation(info, UpdateHealthSettingsPayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Set the score the workspace aims for (0 to 100): explanations show each score's "
        "gap to it.",
    )
    async def set_health_target(
        self, info: Info, input: SetHealthTargetInput
    ) -> SetHealthTargetPayload:
        async def action(session: AsyncSession) -> SetHealthTargetPayload:
            command = input.to_command()
            aim = await target.set_target(session, info.context.access, command)
            found = await alerts.thresholds_of(session, command.workspace_id)
            return SetHealthTargetPayload(settings=HealthSettingsType.of(found, aim))

        return await run_mutation(info, SetHealthTargetPayload, action)

    @mutation(
        EDITOR,
        "Note that the map was looked over: its staleness clock starts again. "
        "Changes nothing on the map (no new version).",
    )
    async def mark_journey_map_reviewed(
        self, info: Info, input: MarkJourneyMapReviewedInput
    ) -> MarkJourneyMapReviewedPayload:
        async def action(session: AsyncSession) -> MarkJourneyMapReviewedPayload:
            command = input.to_command()
            review = await alerts.mark_reviewed(session, info.context.access, command)
            # Read in the mutation's own transaction: the loaders would not see the review.
            found = await alerts.map_staleness(session, review.workspace_id, command.map_id)
            return MarkJourneyMapReviewedPayload(staleness=StalenessType.of(found))

        return await run_mutation(info, MarkJourneyMapReviewedPayload, action)
