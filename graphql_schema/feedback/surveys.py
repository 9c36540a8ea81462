"""SurveyDefinition: the type, its inputs, and the workspace's list of them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Self
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from backend import models
from backend.feedback.commands import CreateSurveyDefinition, ReviseSurveyDefinition
from backend.feedback.surveys import survey_definitions as definitions_of
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.errors import UserError
from graphql_schema.feedback.types import MeasureKind
from graphql_schema.partial import sent, sent_or_null
from graphql_schema.relay import LoaderNode, parse_id

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import WorkspaceType


@strawberry.type(
    name="SurveyDefinition",
    description="One version of a survey question: what it measures, on which scale. A "
    "revision is a new version under the same key; answers keep the version they named.",
)
class SurveyDefinitionType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    key: str = strawberry.field(description="What feedback names it by (surveyKey).")
    version: int
    measure: MeasureKind
    scale_min: int
    scale_max: int
    higher_is_better: bool
    question: str
    created_at: datetime

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.SurveyDefinition | None]:
        return loaders.feedback.survey_definition_by_id

    @classmethod
    def from_model(cls, d: models.SurveyDefinition) -> Self:
        return cls(
            id=str(d.id),
            key=d.key,
            version=d.version,
            measure=d.measure,
            scale_min=d.scale_min,
            scale_max=d.scale_max,
            higher_is_better=d.higher_is_better,
            question=d.question,
            created_at=d.created_at,
        )


@strawberry.input(
    description="NPS is 0-10, higher is better; CSAT, CES and RATING any scale within "
    "0-100 of at least 3 points (CES 2.0: 1-7, higher is better)."
)
class CreateSurveyDefinitionInput:
    workspace_id: strawberry.ID
    key: str
    measure: MeasureKind
    scale_min: int
    scale_max: int
    higher_is_better: bool = True
    question: str | None = None

    def to_command(self) -> CreateSurveyDefinition:
        return CreateSurveyDefinition(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspace_id"),
            key=self.key,
            measure=self.measure,
            scale_min=self.scale_min,
            scale_max=self.scale_max,
            higher_is_better=self.higher_is_better,
            question=self.question,
        )


@strawberry.input(
    description="Send what changes: a new version of the survey's key is made from the "
    "newest one (the measure stays). Nothing changed: the newest version comes back."
)
class ReviseSurveyDefinitionInput:
    id: strawberry.ID = strawberry.field(description="Any version of the survey.")
    question: str | None = strawberry.UNSET
    scale_min: int | None = strawberry.UNSET
    scale_max: int | None = strawberry.UNSET
    higher_is_better: bool | None = strawberry.UNSET

    def to_command(self) -> ReviseSurveyDefinition:
        return ReviseSurveyDefinition(
            definition_id=parse_id(self.id, "SurveyDefinition", field="id"),
            question=sent_or_null(self.question),
            scale_min=sent(self.scale_min, "scale_min"),
            scale_max=sent(self.scale_max, "scale_max"),
            higher_is_better=sent(self.higher_is_better, "higher_is_better"),
        )


@strawberry.type
class SurveyDefinitionPayload:
    survey_definition: SurveyDefinitionType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.field(
    description="Survey questions feedback can name by key: the newest version of each, "
    "or every version of one key (newest first)."
)
async def survey_definitions(
    root: WorkspaceType, info: Info, key: str | None = None
) -> list[SurveyDefinitionType]:
    async with info.context.read() as session:
        found = await definitions_of(session, UUID(root.id), key)
    return [SurveyDefinitionType.from_model(d) for d in found]
