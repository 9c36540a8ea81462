"""Mutation inputs for personas and journey maps. Omitted update fields stay as they are."""

from __future__ import annotations

import strawberry

from graphql_schema.journeys.types import (
    Channel,
    Device,
    MapStatus,
    MapTemplate,
    OpportunityStatus,
    PainPointStatus,
    Scenario,
    Severity,
)


@strawberry.input
class CreatePersonaInput:
    workspace_id: strawberry.ID
    name: str
    summary: str | None = None
    quote: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    occupation: str | None = None
    location: str | None = None
    goals: list[str] | None = None
    frustrations: list[str] | None = None
    behaviors: list[str] | None = None
    preferred_channels: list[Channel] | None = None
    segment_share: float | None = None
    avatar_url: str | None = None


@strawberry.input
class UpdatePersonaInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    summary: str | None = strawberry.UNSET
    quote: str | None = strawberry.UNSET
    age_min: int | None = strawberry.UNSET
    age_max: int | None = strawberry.UNSET
    occupation: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    goals: list[str] | None = strawberry.UNSET
    frustrations: list[str] | None = strawberry.UNSET
    behaviors: list[str] | None = strawberry.UNSET
    preferred_channels: list[Channel] | None = strawberry.UNSET
    segment_share: float | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET


@strawberry.input
class DeletePersonaInput:
    id: strawberry.ID


@strawberry.input
class CreateJourneyMapInput:
    workspace_id: strawberry.ID
    title: str
    template: MapTemplate = MapTemplate.BLANK
    persona_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    description: str | None = None
    objectives: list[str] | None = None
    status: MapStatus = MapStatus.DRAFT
    scenario: Scenario = Scenario.CURRENT_STATE
    departments: list[str] | None = None


@strawberry.input
class UpdateJourneyMapInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT if the map has moved past this version."
    )
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    objectives: list[str] | None = strawberry.UNSET
    status: MapStatus | None = strawberry.UNSET
    scenario: Scenario | None = strawberry.UNSET
    departments: list[str] | None = strawberry.UNSET
    persona_ids: list[strawberry.ID] | None = strawberry.UNSET


@strawberry.input
class DeleteJourneyMapInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class MatchKeysInput:
    event_names: list[str] = strawberry.field(default_factory=list)
    url_patterns: list[str] = strawberry.field(default_factory=list)
    survey_ids: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class PersonaEmotionInput:
    persona_id: strawberry.ID
    current: int | None = None
    target: int | None = None


@strawberry.input
class AddStageInput:
    journey_map_id: strawberry.ID
    name: str
    description: str | None = None
    customer_goals: list[str] | None = None
    questions: list[str] | None = None
    position: int | None = strawberry.field(default=None, description="Default: last.")
    expected_version: int | None = None


@strawberry.input
class UpdateStageInput:
    id: strawberry.ID
    expected_version: int | None = None
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    customer_goals: list[str] | None = strawberry.UNSET
    questions: list[str] | None = strawberry.UNSET


@strawberry.input
class MoveStageInput:
    id: strawberry.ID
    position: int
    expected_version: int | None = None


@strawberry.input
class RemoveInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class AddTouchpointInput:
    stage_id: strawberry.ID
    name: str
    description: str | None = None
    channel: Channel | None = None
    device: Device | None = None
    customer_actions: list[str] | None = None
    customer_goals: list[str] | None = None
    questions: list[str] | None = None
    emotion: int | None = None
    moment_of_truth: bool = False
    owning_department: str | None = None
    match_keys: MatchKeysInput | None = None
    persona_emotions: list[PersonaEmotionInput] | None = None
    position: int | None = strawberry.field(default=None, description="Default: last.")
    expected_version: int | None = None


@strawberry.input
class UpdateTouchpointInput:
    id: strawberry.ID
    expected_version: int | None = None
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    channel: Channel | None = strawberry.UNSET
    device: Device | None = strawberry.UNSET
    customer_actions: list[str] | None = strawberry.UNSET
    customer_goals: list[str] | None = strawberry.UNSET
    questions: list[str] | None = strawberry.UNSET
    emotion: int | None = strawberry.UNSET
    moment_of_truth: bool | None = strawberry.UNSET
    owning_department: str | None = strawberry.UNSET
    match_keys: MatchKeysInput | None = strawberry.UNSET
    persona_emotions: list[PersonaEmotionInput] | None = strawberry.UNSET


@strawberry.input
class MoveTouchpointInput:
    id: strawberry.ID
    position: int
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Another stage of the same map; default: stay."
    )
    expected_version: int | None = None


@strawberry.input
class AddPainPointInput:
    touchpoint_id: strawberry.ID
    title: str
    severity: Severity
    description: str | None = None
    status: PainPointStatus | None = None
    expected_version: int | None = None


@strawberry.input
class UpdatePainPointInput:
    id: strawberry.ID
    expected_version: int | None = None
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    severity: Severity | None = strawberry.UNSET
    status: PainPointStatus | None = strawberry.UNSET


@strawberry.input
class AddOpportunityInput:
    touchpoint_id: strawberry.ID
    title: str
    description: str | None = None
    pain_point_id: strawberry.ID | None = None
    status: OpportunityStatus | None = None
    expected_version: int | None = None


@strawberry.input
class RestoreJourneyMapRevisionInput:
    journey_map_id: strawberry.ID
    version: int
    expected_version: int | None = None


@strawberry.input
class DuplicateJourneyMapInput:
    id: strawberry.ID
    title: str | None = None
    scenario: Scenario | None = None


@strawberry.input
class UpdateOpportunityInput:
    id: strawberry.ID
    expected_version: int | None = None
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: OpportunityStatus | None = strawberry.UNSET
