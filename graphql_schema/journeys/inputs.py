"""Mutation inputs for personas and journey maps, and the commands they make.

Omitted update fields stay as they are (``UNSET`` in the command); on a creation an
omitted or null optional field takes its default. An explicit null for a field an update
cannot clear is a located validation error.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

import strawberry
from strawberry.types.unset import UnsetType

from backend.errors import ValidationFailed
from backend.journeys import commands
from backend.patch import UNSET, Maybe
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
from graphql_schema.relay import parse_id

T = TypeVar("T")

TRAFFIC = "Customers passing through in a typical month, as the team declares it (0 or more)."


def _sent(value: T | UnsetType) -> Maybe[T]:
    """An update field: UNSET when the caller left it out."""
    return UNSET if isinstance(value, UnsetType) else value


def _not_null(value: T | UnsetType | None, name: str) -> Maybe[T]:
    """An update field that may be left out but not cleared."""
    if value is None:
        raise ValidationFailed("Must not be null.", field=name)
    return _sent(value)


def _given(value: T | None) -> Maybe[T]:
    """A creation field: null or left out, it takes the default."""
    return UNSET if value is None else value


def _persona_ids(ids: list[strawberry.ID]) -> list[UUID]:
    return [parse_id(i, "Persona", field=f"persona_ids[{n}]") for n, i in enumerate(ids)]


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

    def to_command(self) -> commands.CreatePersona:
        workspace_id = parse_id(self.workspace_id, "Workspace", field="workspace_id")
        return commands.CreatePersona(
            workspace_id,
            commands.PersonaFields(
                name=self.name,
                summary=_given(self.summary),
                quote=_given(self.quote),
                occupation=_given(self.occupation),
                location=_given(self.location),
                age_min=_given(self.age_min),
                age_max=_given(self.age_max),
                goals=_given(self.goals),
                frustrations=_given(self.frustrations),
                behaviors=_given(self.behaviors),
                preferred_channels=_given(self.preferred_channels),
                segment_share=_given(self.segment_share),
                avatar_url=_given(self.avatar_url),
            ),
        )


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

    def to_command(self) -> commands.UpdatePersona:
        persona_id = parse_id(self.id, "Persona", field="id")
        return commands.UpdatePersona(
            persona_id,
            commands.PersonaFields(
                name=_not_null(self.name, "name"),
                summary=_sent(self.summary),
                quote=_sent(self.quote),
                occupation=_sent(self.occupation),
                location=_sent(self.location),
                age_min=_sent(self.age_min),
                age_max=_sent(self.age_max),
                goals=_sent(self.goals),
                frustrations=_sent(self.frustrations),
                behaviors=_sent(self.behaviors),
                preferred_channels=_sent(self.preferred_channels),
                segment_share=_sent(self.segment_share),
                avatar_url=_sent(self.avatar_url),
            ),
        )


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

    def to_command(self) -> commands.CreateJourneyMap:
        workspace_id = parse_id(self.workspace_id, "Workspace", field="workspace_id")
        fields = commands.MapFields(
            title=self.title,
            description=_given(self.description),
            objectives=_given(self.objectives),
            status=self.status,
            scenario=self.scenario,
            departments=_given(self.departments),
        )
        return commands.CreateJourneyMap(
            workspace_id, fields, self.template, _persona_ids(self.persona_ids)
        )


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

    def to_command(self) -> commands.UpdateJourneyMap:
        map_id = parse_id(self.id, "JourneyMap", field="id")
        fields = commands.MapFields(
            title=_not_null(self.title, "title"),
            description=_sent(self.description),
            objectives=_sent(self.objectives),
            status=_not_null(self.status, "status"),
            scenario=_not_null(self.scenario, "scenario"),
            departments=_sent(self.departments),
        )
        persona_ids: Maybe[list[UUID]] = UNSET
        if isinstance(self.persona_ids, list):
            persona_ids = _persona_ids(self.persona_ids)
        return commands.UpdateJourneyMap(map_id, fields, persona_ids, self.expected_version)


@strawberry.input
class DeleteJourneyMapInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class MatchKeysInput:
    event_names: list[str] = strawberry.field(default_factory=list)
    url_patterns: list[str] = strawberry.field(default_factory=list)
    survey_ids: list[str] = strawberry.field(default_factory=list)

    def to_command(self) -> commands.MatchKeys:
        return commands.MatchKeys(self.event_names, self.url_patterns, self.survey_ids)


@strawberry.input
class PersonaEmotionInput:
    persona_id: strawberry.ID
    current: int | None = None
    target: int | None = None

    def to_command(self, index: int) -> commands.PersonaEmotion:
        path = f"persona_emotions[{index}].persona_id"
        persona_id = parse_id(self.persona_id, "Persona", field=path)
        return commands.PersonaEmotion(persona_id, self.current, self.target)


@strawberry.input
class AddStageInput:
    journey_map_id: strawberry.ID
    name: str
    description: str | None = None
    customer_goals: list[str] | None = None
    questions: list[str] | None = None
    position: int | None = strawberry.field(default=None, description="Default: last.")
    expected_version: int | None = None

    def to_command(self) -> commands.AddStage:
        map_id = parse_id(self.journey_map_id, "JourneyMap", field="journey_map_id")
        fields = commands.StageFields(
            name=self.name,
            description=_given(self.description),
            customer_goals=_given(self.customer_goals),
            questions=_given(self.questions),
        )
        return commands.AddStage(map_id, fields, self.position, self.expected_version)


@strawberry.input
class UpdateStageInput:
    id: strawberry.ID
    expected_version: int | None = None
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    customer_goals: list[str] | None = strawberry.UNSET
    questions: list[str] | None = strawberry.UNSET

    def to_command(self) -> commands.UpdateStage:
        stage_id = parse_id(self.id, "Stage", field="id")
        fields = commands.StageFields(
            name=_not_null(self.name, "name"),
            description=_sent(self.description),
            customer_goals=_sent(self.customer_goals),
            questions=_sent(self.questions),
        )
        return commands.UpdateStage(stage_id, fields, self.expected_version)


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
class DeletePainPointInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class DeleteOpportunityInput:
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
    traffic: int | None = strawberry.field(default=None, description=TRAFFIC)
    owning_department: str | None = None
    match_keys: MatchKeysInput | None = None
    persona_emotions: list[PersonaEmotionInput] | None = None
    position: int | None = strawberry.field(default=None, description="Default: last.")
    expected_version: int | None = None

    def to_command(self) -> commands.AddTouchpoint:
        stage_id = parse_id(self.stage_id, "Stage", field="stage_id")
        fields = commands.TouchpointFields(
            name=self.name,
            description=_given(self.description),
            channel=_given(self.channel),
            device=_given(self.device),
            customer_actions=_given(self.customer_actions),
            customer_goals=_given(self.customer_goals),
            questions=_given(self.questions),
            emotion=_given(self.emotion),
            moment_of_truth=self.moment_of_truth,
            traffic=_given(self.traffic),
            owning_department=_given(self.owning_department),
            match_keys=_given(self.match_keys.to_command() if self.match_keys else None),
        )
        return commands.AddTouchpoint(
            stage_id,
            fields,
            self.position,
            _emotions(self.persona_emotions or []),
            self.expected_version,
        )


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
    traffic: int | None = strawberry.field(
        default=strawberry.UNSET, description=f"{TRAFFIC} Null clears it."
    )
    owning_department: str | None = strawberry.UNSET
    match_keys: MatchKeysInput | None = strawberry.UNSET
    persona_emotions: list[PersonaEmotionInput] | None = strawberry.UNSET

    def to_command(self) -> commands.UpdateTouchpoint:
        touchpoint_id = parse_id(self.id, "Touchpoint", field="id")
        match_keys: Maybe[commands.MatchKeys | None] = UNSET
        if isinstance(self.match_keys, MatchKeysInput):
            match_keys = self.match_keys.to_command()
        elif self.match_keys is None:
            match_keys = None  # no keys of any kind
        fields = commands.TouchpointFields(
            name=_not_null(self.name, "name"),
            description=_sent(self.description),
            channel=_sent(self.channel),
            device=_sent(self.device),
            customer_actions=_sent(self.customer_actions),
            customer_goals=_sent(self.customer_goals),
            questions=_sent(self.questions),
            emotion=_sent(self.emotion),
            moment_of_truth=_not_null(self.moment_of_truth, "moment_of_truth"),
            traffic=_sent(self.traffic),
            owning_department=_sent(self.owning_department),
            match_keys=match_keys,
        )
        emotions: Maybe[list[commands.PersonaEmotion]] = UNSET
        if isinstance(self.persona_emotions, list):
            emotions = _emotions(self.persona_emotions)
        return commands.UpdateTouchpoint(touchpoint_id, fields, emotions, self.expected_version)


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

    def to_command(self) -> commands.AddPainPoint:
        touchpoint_id = parse_id(self.touchpoint_id, "Touchpoint", field="touchpoint_id")
        fields = commands.PainPointFields(
            title=self.title,
            description=_given(self.description),
            severity=self.severity,
            status=_given(self.status),
        )
        return commands.AddPainPoint(touchpoint_id, fields, self.expected_version)


@strawberry.input
class UpdatePainPointInput:
    id: strawberry.ID
    expected_version: int | None = None
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    severity: Severity | None = strawberry.UNSET
    status: PainPointStatus | None = strawberry.UNSET

    def to_command(self) -> commands.UpdatePainPoint:
        pain_point_id = parse_id(self.id, "PainPoint", field="id")
        fields = commands.PainPointFields(
            title=_not_null(self.title, "title"),
            description=_sent(self.description),
            severity=_not_null(self.severity, "severity"),
            status=_not_null(self.status, "status"),
        )
        return commands.UpdatePainPoint(pain_point_id, fields, self.expected_version)


@strawberry.input
class AddOpportunityInput:
    touchpoint_id: strawberry.ID
    title: str
    description: str | None = None
    pain_point_id: strawberry.ID | None = None
    status: OpportunityStatus | None = None
    expected_version: int | None = None

    def to_command(self) -> commands.AddOpportunity:
        touchpoint_id = parse_id(self.touchpoint_id, "Touchpoint", field="touchpoint_id")
        fields = commands.OpportunityFields(
            title=self.title, description=_given(self.description), status=_given(self.status)
        )
        pain_point_id = None
        if self.pain_point_id is not None:
            pain_point_id = parse_id(self.pain_point_id, "PainPoint", field="pain_point_id")
        return commands.AddOpportunity(touchpoint_id, fields, pain_point_id, self.expected_version)


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

    def to_command(self) -> commands.UpdateOpportunity:
        opportunity_id = parse_id(self.id, "Opportunity", field="id")
        fields = commands.OpportunityFields(
            title=_not_null(self.title, "title"),
            description=_sent(self.description),
            status=_not_null(self.status, "status"),
        )
        return commands.UpdateOpportunity(opportunity_id, fields, self.expected_version)


def _emotions(emotions: list[PersonaEmotionInput]) -> list[commands.PersonaEmotion]:
    return [emotion.to_command(index) for index, emotion in enumerate(emotions)]
