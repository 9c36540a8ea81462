"""Metric, and the values it takes over time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from backend import models
from backend.db.pagination import PageRequest
from backend.metrics import service
from backend.vocabulary import metrics as vocabulary
from backend.vocabulary.metrics import MetricDirection as Direction
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.journeys.types import JourneyMapType, StageType, TouchpointType
from graphql_schema.relay import Connection, LoaderNode

MetricDirection = vocabulary.MetricDirection
strawberry.enum(MetricDirection, name="MetricDirection")
MetricSource = vocabulary.MetricSource
strawberry.enum(MetricSource, name="MetricSource")


@strawberry.type(name="MetricValue")
class MetricValueType:
    value: float
    observed_at: datetime
    source: MetricSource

    @classmethod
    def from_model(cls, v: models.MetricValue) -> Self:
        return cls(value=v.value, observed_at=v.observed_at, source=v.source)


@strawberry.type(name="Metric", description="A KPI on a touchpoint, stage or map.")
class MetricType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    name: str
    unit: str
    direction: MetricDirection
    target: float | None
    created_at: datetime
    updated_at: datetime
    journey_map_id: strawberry.Private[UUID | None]
    stage_id: strawberry.Private[UUID | None]
    touchpoint_id: strawberry.Private[UUID | None]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Metric | None]:
        return loaders.metrics.metric_by_id

    @classmethod
    def from_model(cls, m: models.Metric) -> Self:
        return cls(
            id=str(m.id),
            name=m.name,
            unit=m.unit,
            direction=m.direction,
            target=m.target,
            created_at=m.created_at,
            updated_at=m.updated_at,
            journey_map_id=m.journey_map_id,
            stage_id=m.stage_id,
            touchpoint_id=m.touchpoint_id,
        )

    @strawberry.field(description="What it measures, when that is a map (and it still exists).")
    async def journey_map(self, info: Info) -> JourneyMapType | None:
        return await JourneyMapType.linked(info, self.journey_map_id)

    @strawberry.field
    async def stage(self, info: Info) -> StageType | None:
        return await StageType.linked(info, self.stage_id)

    @strawberry.field
    async def touchpoint(self, info: Info) -> TouchpointType | None:
        return await TouchpointType.linked(info, self.touchpoint_id)

    @strawberry.field(description="The most recent value.")
    async def latest(self, info: Info) -> MetricValueType | None:
        found = await info.context.loaders.metrics.latest_value_by_metric.load(UUID(self.id))
        return MetricValueType.from_model(found) if found else None

    @strawberry.field(description="Whether the latest value meets the target; null without both.")
    async def on_target(self, info: Info) -> bool | None:
        found = await info.context.loaders.metrics.latest_value_by_metric.load(UUID(self.id))
        if found is None or self.target is None:
            return None
        if self.direction == Direction.HIGHER_IS_BETTER:
            return found.value >= self.target
        return found.value <= self.target

    @strawberry.field(description="Oldest first; `from` inclusive, `to` exclusive.")
    async def values(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[MetricValueType]:
        async with info.context.read() as session:
            page = await service.values_page(
                session,
                UUID(self.id),
                starts=from_,
                ends=to,
                page=PageRequest(first, after, last, before),
            )
        return Connection.from_page(page, MetricValueType.from_model)
