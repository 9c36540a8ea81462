"""Mutation inputs for feedback."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry

from backend.feedback.commands import FeedbackItem, PlaceFeedback
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from backend.vocabulary.journeys import Channel
from graphql_schema.relay import parse_id

# The enums are registered with strawberry where their types live (feedback.types,
# journeys.types); an input only names them, and so depends on no other API module.


@strawberry.input(description="One thing a customer said. Send a measure, a text, or both.")
class FeedbackItemInput:
    source: FeedbackSource
    external_id: str = strawberry.field(
        description="Your id for it: sending the same source and id again changes nothing."
    )
    channel: Channel | None = None
    measure: MeasureKind | None = None
    measure_value: int | None = strawberry.field(
        default=None,
        description="On the survey's scale when surveyKey is given; otherwise CSAT 1-5, "
        "NPS 0-10, CES 1-7 (higher is better: CES 2.0), RATING 1-5.",
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
    survey_key: str | None = strawberry.field(
        default=None,
        description="The survey definition its measure answered (its newest version); "
        "the measure may then be left out.",
    )


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


@strawberry.input(description="Put an unplaced item on a touchpoint (and so its stage and map).")
class PlaceFeedbackInput:
    feedback_id: strawberry.ID
    touchpoint_id: strawberry.ID

    def to_command(self) -> PlaceFeedback:
        return PlaceFeedback(
            feedback_id=parse_id(self.feedback_id, "Feedback", field="feedback_id"),
            touchpoint_id=parse_id(self.touchpoint_id, "Touchpoint", field="touchpoint_id"),
        )


def _id(value: strawberry.ID | None, type_name: str, field: str) -> UUID | None:
    return parse_id(value, type_name, field=field) if value else None


def item_command(item: FeedbackItemInput) -> FeedbackItem:
    """The service's view of an item; a malformed global id raises (in its field)."""
    # The ids are read in this order, so the first malformed one is the one named.
    journey_map_id = _id(item.journey_map_id, "JourneyMap", "journey_map_id")
    stage_id = _id(item.stage_id, "Stage", "stage_id")
    touchpoint_id = _id(item.touchpoint_id, "Touchpoint", "touchpoint_id")
    persona_id = _id(item.persona_id, "Persona", "persona_id")
    return FeedbackItem(
        source=item.source,
        external_id=item.external_id,
        channel=item.channel,
        measure=item.measure,
        measure_value=item.measure_value,
        text=item.text,
        tags=item.tags,
        customer_ref=item.customer_ref,
        occurred_at=item.occurred_at,
        journey_map_id=journey_map_id,
        stage_id=stage_id,
        touchpoint_id=touchpoint_id,
        persona_id=persona_id,
        event_name=item.event_name,
        url=item.url,
        survey_id=item.survey_id,
        survey_key=item.survey_key,
    )
