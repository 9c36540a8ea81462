"""Feedback, and what a batch answers item by item."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend import models
from backend.feedback.service import Status
from backend.vocabulary import feedback as vocabulary
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.errors import UserError
from graphql_schema.journeys.types import (
    Channel,
    JourneyMapType,
    PersonaType,
    StageType,
    TouchpointType,
)
from graphql_schema.loaded import lazy_type
from graphql_schema.relations import relation
from graphql_schema.relay import LoaderNode

if TYPE_CHECKING:
    from graphql_schema.feedback.surveys import SurveyDefinitionType

# The survey type's module imports this one (for MeasureKind).
SurveyDefinition = Annotated[
    "SurveyDefinitionType", strawberry.lazy("graphql_schema.feedback.surveys")
]

FeedbackSource = vocabulary.FeedbackSource
strawberry.enum(FeedbackSource, name="FeedbackSource")
MeasureKind = vocabulary.MeasureKind
strawberry.enum(MeasureKind, name="MeasureKind")
FeedbackItemStatus = Status
strawberry.enum(FeedbackItemStatus, name="FeedbackItemStatus")
SentimentStatus = vocabulary.SentimentStatus
strawberry.enum(
    SentimentStatus,
    name="SentimentStatus",
    description="PENDING: not read yet. SCORED: sentiment holds the score. UNSCORED: "
    "empty, too short, or in a language the scorer does not read; never counted as neutral.",
)
FeedbackPlacement = vocabulary.Placement
strawberry.enum(
    FeedbackPlacement,
    name="FeedbackPlacement",
    description="How an item found its place: LINKED (the sender named it), MATCHED (one "
    "touchpoint lists its match key), AMBIGUOUS (several do), UNMATCHED (none does), "
    "ASSIGNED (an editor placed it), NONE (no link, no key: workspace-wide).",
)


@strawberry.type(name="Feedback", description="One thing a customer said, from any door.")
class FeedbackType(LoaderNode):
    id: relay.NodeID[str]
    source: FeedbackSource
    external_id: str
    channel: Channel | None
    measure: MeasureKind | None
    measure_value: int | None
    text: str
    sentiment: float | None = strawberry.field(
        description="-1 to +1, computed from the text in the background; null unless "
        "sentimentStatus is SCORED."
    )
    sentiment_status: SentimentStatus
    language: str | None = strawberry.field(
        description="The text's language (ISO 639-1) when it could be told; null for "
        "short or unclear texts."
    )
    tags: list[str]
    customer_ref: str | None
    event_name: str | None
    url: str | None
    survey_id: str | None
    occurred_at: datetime
    received_at: datetime
    touchpoint_id: strawberry.Private[UUID | None]
    stage_id: strawberry.Private[UUID | None]
    journey_map_id: strawberry.Private[UUID | None]
    persona_id: strawberry.Private[UUID | None]
    placement: FeedbackPlacement
    placement_candidate_ids: strawberry.Private[list[str]]
    survey_definition_id: strawberry.Private[UUID | None]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Feedback | None]:
        return loaders.feedback.feedback_by_id

    @classmethod
    def from_model(cls, f: models.Feedback) -> Self:
        return cls(
            id=str(f.id),
            source=f.source,
            external_id=f.external_id,
            channel=f.channel,
            measure=f.measure,
            measure_value=f.measure_value,
            text=f.text,
            sentiment=f.sentiment if f.sentiment_status is SentimentStatus.SCORED else None,
            sentiment_status=f.sentiment_status,
            language=f.language,
            tags=list(f.tags),
            customer_ref=f.customer_ref,
            event_name=f.event_name,
            url=f.url,
            survey_id=f.survey_id,
            occurred_at=f.occurred_at,
            received_at=f.received_at,
            touchpoint_id=f.touchpoint_id,
            stage_id=f.stage_id,
            journey_map_id=f.journey_map_id,
            persona_id=f.persona_id,
            placement=f.placement,
            placement_candidate_ids=list(f.placement_candidates),
            survey_definition_id=f.survey_definition_id,
        )

    @strawberry.field(description="Where it is attached; null when unattached or since removed.")
    async def touchpoint(self, info: Info) -> TouchpointType | None:
        return (await feedback_touchpoints(info.context.loaders, [self]))[0]

    @strawberry.field
    async def stage(self, info: Info) -> StageType | None:
        return (await feedback_stages(info.context.loaders, [self]))[0]

    @strawberry.field
    async def journey_map(self, info: Info) -> JourneyMapType | None:
        return (await feedback_maps(info.context.loaders, [self]))[0]

    @strawberry.field
    async def persona(self, info: Info) -> PersonaType | None:
        return (await feedback_personas(info.context.loaders, [self]))[0]

    @strawberry.field(
        description="The touchpoints its match keys fit when AMBIGUOUS (those still there)."
    )
    async def placement_candidates(self, info: Info) -> list[TouchpointType]:
        ids = [UUID(c) for c in self.placement_candidate_ids]
        return await TouchpointType.linked_many(info, ids)

    @strawberry.field(description="The survey version its measure answered, if it named one.")
    async def survey_definition(self, info: Info) -> SurveyDefinition | None:
        survey_type: type[SurveyDefinitionType] = lazy_type(SurveyDefinition)
        return await survey_type.linked(info, self.survey_definition_id)


# What a feedback item is attached to, for many items at once (graphql_schema/relations.py).


@relation(("Feedback", "touchpoint"))
async def feedback_touchpoints(
    loaders: Loaders, items: list[FeedbackType]
) -> list[TouchpointType | None]:
    return await TouchpointType.linked_each(loaders, [f.touchpoint_id for f in items])


@relation(("Feedback", "stage"))
async def feedback_stages(loaders: Loaders, items: list[FeedbackType]) -> list[StageType | None]:
    return await StageType.linked_each(loaders, [f.stage_id for f in items])


@relation(("Feedback", "journeyMap"))
async def feedback_maps(loaders: Loaders, items: list[FeedbackType]) -> list[JourneyMapType | None]:
    return await JourneyMapType.linked_each(loaders, [f.journey_map_id for f in items])


@relation(("Feedback", "persona"))
async def feedback_personas(
    loaders: Loaders, items: list[FeedbackType]
) -> list[PersonaType | None]:
    return await PersonaType.linked_each(loaders, [f.persona_id for f in items])


@strawberry.type(name="FeedbackItemResult", description="What became of one item of a batch.")
class FeedbackItemResultType:
    index: int
    status: FeedbackItemStatus
    feedback: FeedbackType | None = strawberry.field(
        description="The stored feedback: the new one, or for a duplicate the one kept first."
    )
    errors: list[UserError]


@strawberry.type(
    name="IngestionToken", description="A workspace's key for POST /ingest/v1/feedback."
)
class IngestionTokenType(LoaderNode):
    id: relay.NodeID[str]
    name: str
    prefix: str = strawberry.field(description="The secret's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.IngestionToken | None]:
        return loaders.feedback.ingestion_token_by_id

    @classmethod
    def from_model(cls, token: models.IngestionToken) -> Self:
        return cls(
            id=str(token.id),
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )
