"""Mutations inside a map: stages, touchpoints, pain points, opportunities.

Every payload carries the map as well, so a client has the new ``version`` to
send as ``expectedVersion`` next time.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.journeys import structure
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.journeys.inputs import (
    AddOpportunityInput,
    AddPainPointInput,
    AddStageInput,
    AddTouchpointInput,
    MoveStageInput,
    MoveTouchpointInput,
    PersonaEmotionInput,
    RemoveInput,
    UpdateOpportunityInput,
    UpdatePainPointInput,
    UpdateStageInput,
    UpdateTouchpointInput,
)
from graphql_schema.journeys.mutations import given
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


def _touchpoint_values(input: Any, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    values = given(input, structure.TOUCHPOINT_FIELDS, required=required)
    if values.get("match_keys") is not None:
        values["match_keys"] = (
            asdict(values["match_keys"])
            if not isinstance(values["match_keys"], dict)
            else values["match_keys"]
        )
    return values


def _emotions(emotions: list[PersonaEmotionInput] | None) -> list[dict[str, Any]] | None:
    if emotions is None or emotions is strawberry.UNSET:
        return None
    return [
        {
            "persona_id": parse_id(
                e.persona_id, "Persona", field=f"personaEmotions[{n}].personaId"
            ),
            "current": e.current,
            "target": e.target,
        }
        for n, e in enumerate(emotions)
    ]


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@strawberry.type
class StagePayload:
    stage: StageType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _stage_payload(stage: Any, journey_map: Any) -> StagePayload:
    return StagePayload(
        stage=StageType.from_model(stage), journey_map=JourneyMapType.from_model(journey_map)
    )


@strawberry.type
class TouchpointPayload:
    touchpoint: TouchpointType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RemovePayload:
    removed_id: strawberry.ID | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PainPointPayload:
    pain_point: PainPointType | None = None
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OpportunityPayload:
    opportunity: OpportunityType | None = None
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
            map_id = parse_id(input.journey_map_id, "JourneyMap", field="journeyMapId")
            stage, journey_map = await structure.add_stage(
                session,
                info.context.access,
                map_id,
                _present(given(input, structure.STAGE_FIELDS)),
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
        "Change a stage; omitted fields stay.",
    )
    async def update_stage(self, info: Info, input: UpdateStageInput) -> StagePayload:
        async def action(session: AsyncSession) -> StagePayload:
            stage_id = parse_id(input.id, "Stage", field="id")
            stage, journey_map = await structure.update_stage(
                session,
                info.context.access,
                stage_id,
                given(input, structure.STAGE_FIELDS, required=("name",)),
                expected_version=input.expected_version,
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
            stage, journey_map = await structure.move_stage(
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
            journey_map = await structure.remove_stage(
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
            stage_id = parse_id(input.stage_id, "Stage", field="stageId")
            touchpoint, journey_map = await structure.add_touchpoint(
                session,
                info.context.access,
                stage_id,
                _present(_touchpoint_values(input)),
                position=input.position,
                persona_emotions=_emotions(input.persona_emotions),
                expected_version=input.expected_version,
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
            touchpoint_id = parse_id(input.id, "Touchpoint", field="id")
            values = _touchpoint_values(input, required=("name", "moment_of_truth"))
            touchpoint, journey_map = await structure.update_touchpoint(
                session,
                info.context.access,
                touchpoint_id,
                values,
                persona_emotions=_emotions(input.persona_emotions),
                expected_version=input.expected_version,
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
                parse_id(input.stage_id, "Stage", field="stageId") if input.stage_id else None
            )
            touchpoint, journey_map = await structure.move_touchpoint(
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
            journey_map = await structure.remove_touchpoint(
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
            touchpoint_id = parse_id(input.touchpoint_id, "Touchpoint", field="touchpointId")
            pain, journey_map = await structure.add_pain_point(
                session,
                info.context.access,
                touchpoint_id,
                _present(given(input, structure.PAIN_POINT_FIELDS)),
                expected_version=input.expected_version,
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
            pain_id = parse_id(input.id, "PainPoint", field="id")
            pain, journey_map = await structure.update_pain_point(
                session,
                info.context.access,
                pain_id,
                given(input, structure.PAIN_POINT_FIELDS, required=("title", "severity", "status")),
                expected_version=input.expected_version,
            )
            return PainPointPayload(
                pain_point=PainPointType.from_model(pain),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, PainPointPayload, action)

    @mutation(
        EDITOR,
        "Record an opportunity at a touchpoint, maybe from a pain point.",
    )
    async def add_opportunity(self, info: Info, input: AddOpportunityInput) -> OpportunityPayload:
        async def action(session: AsyncSession) -> OpportunityPayload:
            touchpoint_id = parse_id(input.touchpoint_id, "Touchpoint", field="touchpointId")
            values = _present(given(input, ("title", "description", "status")))
            if input.pain_point_id is not None:
                values["pain_point_id"] = parse_id(
                    input.pain_point_id, "PainPoint", field="painPointId"
                )
            idea, journey_map = await structure.add_opportunity(
                session,
                info.context.access,
                touchpoint_id,
                values,
                expected_version=input.expected_version,
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
            opportunity_id = parse_id(input.id, "Opportunity", field="id")
            idea, journey_map = await structure.update_opportunity(
                session,
                info.context.access,
                opportunity_id,
                given(input, ("title", "description", "status"), required=("title", "status")),
                expected_version=input.expected_version,
            )
            return OpportunityPayload(
                opportunity=OpportunityType.from_model(idea),
                journey_map=JourneyMapType.from_model(journey_map),
            )

        return await run_mutation(info, OpportunityPayload, action)
