"""Initiative, its links, and its measured outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from backend import models
from backend.initiatives import outcome
from backend.vocabulary import initiatives as vocabulary
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.identity.types import UserType
from graphql_schema.journeys.types import PainPointType, TouchpointType
from graphql_schema.metrics.types import MetricType
from graphql_schema.relay import LoaderNode

InitiativeStatus = vocabulary.InitiativeStatus
strawberry.enum(InitiativeStatus, name="InitiativeStatus")
InitiativeOrder = vocabulary.InitiativeOrder
strawberry.enum(InitiativeOrder, name="InitiativeOrder")


@strawberry.type(name="OutcomeWindow")
class OutcomeWindowType:
    starts_at: datetime
    ends_at: datetime
    score: float | None = strawberry.field(
        description="Mean experience (0 to 100) of the feedback on the linked touchpoints."
    )
    sample_size: int


@strawberry.type(
    name="InitiativeOutcome",
    description="Equal windows before and after shipping (up to 90 days each).",
)
class InitiativeOutcomeType:
    before: OutcomeWindowType
    after: OutcomeWindowType
    change: float | None = strawberry.field(description="after - before, in points.")
    standard_error: float | None
    significant: bool = strawberry.field(
        description="True when the change is larger than noise (beyond 1.96 standard errors)."
    )

    @classmethod
    def of(cls, found: outcome.Outcome) -> Self:
        def window(w: outcome.Window) -> OutcomeWindowType:
            return OutcomeWindowType(
                starts_at=w.starts_at, ends_at=w.ends_at, score=w.score, sample_size=w.sample_size
            )

        return cls(
            before=window(found.before),
            after=window(found.after),
            change=found.change,
            standard_error=found.standard_error,
            significant=found.significant,
        )


@strawberry.type(name="Initiative")
class InitiativeType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    title: str
    description: str
    status: InitiativeStatus
    department: str
    impact: int = strawberry.field(description="1 to 5.")
    effort: int = strawberry.field(description="1 to 5.")
    confidence: float = strawberry.field(description="0 to 1.")
    reach: int
    priority: float = strawberry.field(description="RICE: reach x impact x confidence / effort.")
    baseline: float | None = strawberry.field(description="Of the target metric, before.")
    target: float | None = strawberry.field(description="Of the target metric, to reach.")
    shipped_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[UUID | None]
    target_metric_id: strawberry.Private[UUID | None]
    touchpoint_ids: strawberry.Private[list[UUID]]
    pain_point_ids: strawberry.Private[list[UUID]]
    row: strawberry.Private[models.Initiative]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Initiative | None]:
        return loaders.initiatives.initiative_by_id

    @classmethod
    def from_model(cls, i: models.Initiative) -> Self:
        return cls(
            id=str(i.id),
            title=i.title,
            description=i.description,
            status=i.status,
            department=i.department,
            impact=i.impact,
            effort=i.effort,
            confidence=i.confidence,
            reach=i.reach,
            priority=i.priority,
            baseline=i.baseline,
            target=i.target,
            shipped_at=i.shipped_at,
            created_at=i.created_at,
            updated_at=i.updated_at,
            owner_id=i.owner_id,
            target_metric_id=i.target_metric_id,
            touchpoint_ids=[UUID(t) for t in i.touchpoint_ids],
            pain_point_ids=[UUID(p) for p in i.pain_point_ids],
            row=i,
        )

    @strawberry.field(description="The statuses it may move to next.")
    def allowed_transitions(self) -> list[InitiativeStatus]:
        return sorted(vocabulary.TRANSITIONS[self.status])

    @strawberry.field
    async def owner(self, info: Info) -> UserType | None:
        return await UserType.linked(info, self.owner_id)

    @strawberry.field(description="The linked touchpoints that still exist.")
    async def touchpoints(self, info: Info) -> list[TouchpointType]:
        return await TouchpointType.linked_many(info, self.touchpoint_ids)

    @strawberry.field(description="The linked pain points that still exist.")
    async def pain_points(self, info: Info) -> list[PainPointType]:
        return await PainPointType.linked_many(info, self.pain_point_ids)

    @strawberry.field
    async def target_metric(self, info: Info) -> MetricType | None:
        return await MetricType.linked(info, self.target_metric_id)

    @strawberry.field(description="Null until shipped.")
    async def outcome(self, info: Info) -> InitiativeOutcomeType | None:
        async with info.context.read() as session:
            found = await outcome.outcome_of(session, self.row)
        return InitiativeOutcomeType.of(found) if found else None
