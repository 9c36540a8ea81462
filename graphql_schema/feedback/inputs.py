"""Mutation inputs for feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graphql_schema.feedback.types import FeedbackSource, MeasureKind
from graphql_schema.journeys.types import Channel


@strawberry.input(description="One thing a customer said. Send a measure, a text, or both.")
class FeedbackItemInput:
    source: FeedbackSource
    external_id: str = strawberry.field(
        description="Your id for it: sending the same source and id again changes nothing."
    )
    channel: Channel | None = None
    measure: MeasureKind | None = None
    measure_value: int | None = strawberry.field(
        default=None, description="CSAT 1-5, NPS 0-10, CES 1-7 (lower is better), RATING 1-5."
    )
    text: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    customer_ref: str | None = strawberry.field(
        default=None, description="A pseudonymous reference to the customer; never a name."
    )
    occurred_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    journey_map_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    touchpoint_id: strawberry.ID | None = None
    persona_id: strawberry.ID | None = None
    event_name: str | None = strawberry.field(
        default=None, description="With no touchpoint given, finds it by its match keys."
    )
    url: str | None = None
    survey_id: str | None = None


@strawberry.input
class SubmitFeedbackInput:
    workspace_id: strawberry.ID
    item: FeedbackItemInput


@strawberry.input
class SubmitFeedbackBatchInput:
    workspace_id: strawberry.ID
    items: list[FeedbackItemInput] = strawberry.field(description="Up to 1,000.")
    all_or_nothing: bool = strawberry.field(
        default=False, description="Keep nothing if any item is rejected."
    )


@strawberry.input
class CreateIngestionTokenInput:
    workspace_id: strawberry.ID
    name: str


@strawberry.input
class RevokeIngestionTokenInput:
    id: strawberry.ID


def item_values(item: FeedbackItemInput, parse: Any) -> dict[str, Any]:
    """The service's view of an item; ``parse(value, type, field)`` reads global ids."""
    return {
        "source": item.source,
        "external_id": item.external_id,
        "channel": item.channel,
        "measure": item.measure,
        "measure_value": item.measure_value,
        "text": item.text,
        "tags": item.tags,
        "customer_ref": item.customer_ref,
        "occurred_at": item.occurred_at,
        "journey_map_id": parse(item.journey_map_id, "JourneyMap", "journeyMapId"),
        "stage_id": parse(item.stage_id, "Stage", "stageId"),
        "touchpoint_id": parse(item.touchpoint_id, "Touchpoint", "touchpointId"),
        "persona_id": parse(item.persona_id, "Persona", "personaId"),
        "event_name": item.event_name,
        "url": item.url,
        "survey_id": item.survey_id,
    }
