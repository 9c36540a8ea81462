"""What callers ask of the journeys services, as typed values (no mappings of names).

A ``*Fields`` value holds an entity's own fields, each ``UNSET`` unless the caller sent it:
an update changes only those, a creation leaves the others at their defaults. The services
check the rules (lengths, ranges, references) and raise errors with snake_case paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from backend.patch import UNSET, Maybe
from backend.vocabulary.journeys import (
    Channel,
    Device,
    MapStatus,
    MapTemplate,
    OpportunityStatus,
    PainPointStatus,
    Scenario,
    Severity,
)


# Maps ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MapFields:
    title: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    objectives: Maybe[list[str] | None] = UNSET
    status: Maybe[MapStatus] = UNSET
    scenario: Maybe[Scenario] = UNSET
    departments: Maybe[list[str] | None] = UNSET


@dataclass(frozen=True, slots=True)
class CreateJourneyMap:
    workspace_id: UUID
    fields: MapFields
    template: MapTemplate = MapTemplate.BLANK
    persona_ids: Sequence[UUID] = ()


@dataclass(frozen=True, slots=True)
class UpdateJourneyMap:
    map_id: UUID
    fields: MapFields = MapFields()
    persona_ids: Maybe[Sequence[UUID]] = UNSET  # the whole list, in order
    expected_version: int | None = None


# Personas -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PersonaFields:
    name: Maybe[str] = UNSET
    summary: Maybe[str | None] = UNSET
    quote: Maybe[str | None] = UNSET
    occupation: Maybe[str | None] = UNSET
    location: Maybe[str | None] = UNSET
    age_min: Maybe[int | None] = UNSET
    age_max: Maybe[int | None] = UNSET
    goals: Maybe[list[str] | None] = UNSET
    frustrations: Maybe[list[str] | None] = UNSET
    behaviors: Maybe[list[str] | None] = UNSET
    preferred_channels: Maybe[list[Channel] | None] = UNSET
    segment_share: Maybe[float | None] = UNSET
    avatar_url: Maybe[str | None] = UNSET


@dataclass(frozen=True, slots=True)
class CreatePersona:
    workspace_id: UUID
    fields: PersonaFields


@dataclass(frozen=True, slots=True)
class UpdatePersona:
    persona_id: UUID
    fields: PersonaFields


# Stages -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StageFields:
    name: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    customer_goals: Maybe[list[str] | None] = UNSET
    questions: Maybe[list[str] | None] = UNSET


@dataclass(frozen=True, slots=True)
class AddStage:
    map_id: UUID
    fields: StageFields
    position: int | None = None  # None: last
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateStage:
    stage_id: UUID
    fields: StageFields
    expected_version: int | None = None


# Touchpoints --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MatchKeys:
    """How feedback finds a touchpoint: any of these names, URL patterns or survey ids."""

    event_names: list[str] | None = None
    url_patterns: list[str] | None = None
    survey_ids: list[str] | None = None


@dataclass(frozen=True, slots=True)
class PersonaEmotion:
    persona_id: UUID
    current: int | None = None
    target: int | None = None


@dataclass(frozen=True, slots=True)
class TouchpointFields:
    name: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    channel: Maybe[Channel | None] = UNSET
    device: Maybe[Device | None] = UNSET
    customer_actions: Maybe[list[str] | None] = UNSET
    customer_goals: Maybe[list[str] | None] = UNSET
    questions: Maybe[list[str] | None] = UNSET
    emotion: Maybe[int | None] = UNSET
    moment_of_truth: Maybe[bool] = UNSET
    traffic: Maybe[int | None] = UNSET  # customers a month, as declared; None clears it
    owning_department: Maybe[str | None] = UNSET
    match_keys: Maybe[MatchKeys | None] = UNSET


@dataclass(frozen=True, slots=True)
class AddTouchpoint:
    stage_id: UUID
    fields: TouchpointFields
    position: int | None = None  # None: last
    persona_emotions: Sequence[PersonaEmotion] = ()
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateTouchpoint:
    touchpoint_id: UUID
    fields: TouchpointFields
    persona_emotions: Maybe[Sequence[PersonaEmotion]] = UNSET  # replaces them all when given
    expected_version: int | None = None


# Pain points and opportunities --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PainPointFields:
    title: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    severity: Maybe[Severity] = UNSET
    status: Maybe[PainPointStatus] = UNSET


@dataclass(frozen=True, slots=True)
class AddPainPoint:
    touchpoint_id: UUID
    fields: PainPointFields
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class UpdatePainPoint:
    pain_point_id: UUID
    fields: PainPointFields
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class OpportunityFields:
    title: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    status: Maybe[OpportunityStatus] = UNSET


@dataclass(frozen=True, slots=True)
class AddOpportunity:
    touchpoint_id: UUID
    fields: OpportunityFields
    pain_point_id: UUID | None = None  # a pain point of the same touchpoint it answers
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateOpportunity:
    opportunity_id: UUID
    fields: OpportunityFields
    expected_version: int | None = None
