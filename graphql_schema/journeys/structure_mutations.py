"""Mutations inside a map: stages, touchpoints, pain points, opportunities; each a new
version of the map, removals included (its revisions can restore what they removed).

Every payload carries the map as well, so a client has the new ``version`` to
send as ``expectedVersion`` next time.
"""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.journeys import findings, stages, touchpoints
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.journeys.conflicts import CarriesCurrentMap
from graphql_schema.journeys.inputs import (
    AddOpportunityInput,
    AddPainPointInput,
    AddStageInput,
    AddTouchpointInput,
    DeleteOpportunityInput,
    DeletePainPointInput,
    MoveStageInput,
    MoveTouchpointInput,
    RemoveInput,
    UpdateOpportunityInput,
    UpdatePainPointInput,
    UpdateStageInput,
    UpdateTouchpointInput,
)
from graphql_schema.journeys.types import (
    JourneyMapType,
    OpportunityType,
    PainPointType,
    StageType,
    TouchpointType,
)
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import EDITOR, mutation
from graphql_schema.relay import parse_id


@strawberry.type
class StagePayload(CarriesCurrentMap):
    stage: StageType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TouchpointPayload(CarriesCurrentMap):
    touchpoint: TouchpointType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RemovePayload(CarriesCurrentMap):
    removed_id: strawberry.ID | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PainPointPayload(CarriesCurrentMap):
    pain_point: PainPointType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OpportunityPayload(CarriesCurrentMap):
    opportunity: OpportunityType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePainPointPayload(CarriesCurrentMap):
    deleted_pain_point_id: strawberry.ID | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteOpportunityPayload(CarriesCurrentMap):
    deleted_opportunity_id: strawberry.ID | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StructureMutations:
    @mutation(
        EDITOR,
        "Add a stage to a map, last unless a position is given.",
    )
    async def add_stage(self, info: Info, input: AddStageInput) -> StagePayload:
        async def action(session: AsyncSession) -> StagePayload:
            stage, journey_map = await stages.add_stage(
                session, info.context.access, input.to_command()
            )
            return StagePayload(
                stage=StageType.from_model(stage),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, StagePayload, action)

    @mutation(
        EDITOR,
        "Change a stage; omitted fields stay.",
    )
    async def update_stage(self, info: Info, input: UpdateStageInput) -> StagePayload:
        async def action(session: AsyncSession) -> StagePayload:
            stage, journey_map = await stages.update_stage(
                session, info.context.access, input.to_command()
            )
            return StagePayload(
                stage=StageType.from_model(stage),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, StagePayload, action)

    @mutation(
        EDITOR,
        "Move a stage to a position (0 = first).",
    )
    async def move_stage(self, info: Info, input: MoveStageInput) -> StagePayload:
        async def action(session: AsyncSession) -> StagePayload:
            stage_id = parse_id(input.id, "Stage", field="id")
            stage, journey_map = await stages.move_stage(
                session,
                info.context.access,
                stage_id,
                position=input.position,
                expected_version=input.expected_version,
            )
            return StagePayload(
                stage=StageType.from_model(stage),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, StagePayload, action)

    @mutation(
        EDITOR,
        "Remove a stage and everything on it; a new version (restorable from the revisions).",
    )
    async def remove_stage(self, info: Info, input: RemoveInput) -> RemovePayload:
        async def action(session: AsyncSession) -> RemovePayload:
            stage_id = parse_id(input.id, "Stage", field="id")
            journey_map = await stages.remove_stage(
                session, info.context.access, stage_id, expected_version=input.expected_version
            )
            return RemovePayload(
                removed_id=input.id, journey_map=JourneyMapType.from_model(journey_map)
            )

        return await run_mutation(info, RemovePayload, action)

    @mutation(
        EDITOR,
        "Add a touchpoint to a stage, last unless a position is given.",
    )
    async def add_touchpoint(self, info: Info, input: AddTouchpointInput) -> TouchpointPayload:
        async def action(session: AsyncSession) -> TouchpointPayload:
            touchpoint, journey_map = await touchpoints.add_touchpoint(
                session, info.context.access, input.to_command()
            )
            return TouchpointPayload(
                touchpoint=TouchpointType.from_model(touchpoint),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, TouchpointPayload, action)

    @mutation(
        EDITOR,
        "Change a touchpoint; omitted fields stay.",
    )
    async def update_touchpoint(
        self, info: Info, input: UpdateTouchpointInput
    ) -> TouchpointPayload:
        async def action(session: AsyncSession) -> TouchpointPayload:
            touchpoint, journey_map = await touchpoints.update_touchpoint(
                session, info.context.access, input.to_command()
            )
            return TouchpointPayload(
                touchpoint=TouchpointType.from_model(touchpoint),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, TouchpointPayload, action)

    @mutation(
        EDITOR,
        "Move a touchpoint, within its stage or to another.",
    )
    async def move_touchpoint(self, info: Info, input: MoveTouchpointInput) -> TouchpointPayload:
        async def action(session: AsyncSession) -> TouchpointPayload:
            touchpoint_id = parse_id(input.id, "Touchpoint", field="id")
            stage_id = (
                parse_id(input.stage_id, "Stage", field="stage_id") if input.stage_id else None
            )
            touchpoint, journey_map = await touchpoints.move_touchpoint(
                session,
                info.context.access,
                touchpoint_id,
                stage_id=stage_id,
                position=input.position,
                expected_version=input.expected_version,
            )
            return TouchpointPayload(
                touchpoint=TouchpointType.from_model(touchpoint),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, TouchpointPayload, action)

    @mutation(
        EDITOR,
        "Remove a touchpoint with its pain points and opportunities; a new version"
        " (restorable from the revisions).",
    )
    async def remove_touchpoint(self, info: Info, input: RemoveInput) -> RemovePayload:
        async def action(session: AsyncSession) -> RemovePayload:
            touchpoint_id = parse_id(input.id, "Touchpoint", field="id")
            journey_map = await touchpoints.remove_touchpoint(
                session, info.context.access, touchpoint_id, expected_version=input.expected_version
            )
            return RemovePayload(
                removed_id=input.id, journey_map=JourneyMapType.from_model(journey_map)
            )

        return await run_mutation(info, RemovePayload, action)

    @mutation(
        EDITOR,
        "Record a pain point at a touchpoint.",
    )
    async def add_pain_point(self, info: Info, input: AddPainPointInput) -> PainPointPayload:
        async def action(session: AsyncSession) -> PainPointPayload:
            pain, journey_map = await findings.add_pain_point(
                session, info.context.access, input.to_command()
            )
            return PainPointPayload(
                pain_point=PainPointType.from_model(pain),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, PainPointPayload, action)

    @mutation(
        EDITOR,
        "Change a pain point (resolve it, say); omitted fields stay.",
    )
    async def update_pain_point(self, info: Info, input: UpdatePainPointInput) -> PainPointPayload:
        async def action(session: AsyncSession) -> PainPointPayload:
            pain, journey_map = await findings.update_pain_point(
                session, info.context.access, input.to_command()
            )
            return PainPointPayload(
                pain_point=PainPointType.from_model(pain),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, PainPointPayload, action)

    @mutation(
        EDITOR,
        "Remove a pain point (its opportunities stay, answering none); a new version"
        " (restorable from the revisions).",
    )
    async def delete_pain_point(
        self, info: Info, input: DeletePainPointInput
    ) -> DeletePainPointPayload:
        async def action(session: AsyncSession) -> DeletePainPointPayload:
            pain_point_id = parse_id(input.id, "PainPoint", field="id")
            journey_map = await findings.remove_pain_point(
                session, info.context.access, pain_point_id, expected_version=input.expected_version
            )
            return DeletePainPointPayload(
                deleted_pain_point_id=input.id, journey_map=JourneyMapType.from_model(journey_map)
            )

        return await run_mutation(info, DeletePainPointPayload, action)

    @mutation(
        EDITOR,
        "Record an opportunity at a touchpoint, maybe from a pain point.",
    )
    async def add_opportunity(self, info: Info, input: AddOpportunityInput) -> OpportunityPayload:
        async def action(session: AsyncSession) -> OpportunityPayload:
            idea, journey_map = await findings.add_opportunity(
                session, info.context.access, input.to_command()
            )
            return OpportunityPayload(
                opportunity=OpportunityType.from_model(idea),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, OpportunityPayload, action)

    @mutation(
        EDITOR,
        "Change an opportunity (plan it, say); omitted fields stay.",
    )
    async def update_opportunity(
        self, info: Info, input: UpdateOpportunityInput
    ) -> OpportunityPayload:
        async def action(session: AsyncSession) -> OpportunityPayload:
            idea, journey_map = await findings.update_opportunity(
                session, info.context.access, input.to_command()
            )
            return OpportunityPayload(
                opportunity=OpportunityType.from_model(idea),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, OpportunityPayload, action)

    @mutation(
        EDITOR,
        "Remove an opportunity; a new version (restorable from the revisions).",
    )
    async def delete_opportunity(
        self, info: Info, input: DeleteOpportunityInput
    ) -> DeleteOpportunityPayload:
        async def action(session: AsyncSession) -> DeleteOpportunityPayload:
            opportunity_id = parse_id(input.id, "Opportunity", field="id")
            journey_map = await findings.remove_opportunity(
                session,
                info.context.access,
                opportunity_id,
                expected_version=input.expected_version,
            )
            return DeleteOpportunityPayload(
                deleted_opportunity_id=input.id, journey_map=JourneyMapType.from_model(journey_map)
            )

        return await run_mutation(info, DeleteOpportunityPayload, action)
