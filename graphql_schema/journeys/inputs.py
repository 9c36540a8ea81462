"""Mutation inputs for personas and journey maps. Omitted update fields stay as they are."""

from __future__ import annotations

import strawberry

from graphql_schema.journeys.types import Channel, MapStatus, MapTemplate, Scenario


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
    preferred_channels: list[Channel] | None = None  # type: ignore[valid-type]
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
    preferred_channels: list[Channel] | None = strawberry.UNSET  # type: ignore[valid-type]
    segment_share: float | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET


@strawberry.input
class DeletePersonaInput:
    id: strawberry.ID


@strawberry.input
class CreateJourneyMapInput:
    workspace_id: strawberry.ID
    title: str
    template: MapTemplate = MapTemplate.BLANK  # type: ignore[valid-type]
    persona_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    description: str | None = None
    objectives: list[str] | None = None
    status: MapStatus = MapStatus.DRAFT  # type: ignore[valid-type]
    scenario: Scenario = Scenario.CURRENT_STATE  # type: ignore[valid-type]
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
    status: MapStatus | None = strawberry.UNSET  # type: ignore[valid-type]
    scenario: Scenario | None = strawberry.UNSET  # type: ignore[valid-type]
    departments: list[str] | None = strawberry.UNSET
    persona_ids: list[strawberry.ID] | None = strawberry.UNSET


@strawberry.input
class DeleteJourneyMapInput:
    id: strawberry.ID
    expected_version: int | None = None
