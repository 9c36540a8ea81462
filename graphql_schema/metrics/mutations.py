"""Mutations: createMetric, updateMetric, deleteMetric, recordMetricValues."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.metrics import service
from backend.metrics.commands import CreateMetric, Observation, RecordValues, UpdateMetric
from backend.patch import UNSET, Maybe
from backend.vocabulary.metrics import MetricSource as Source
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.metrics.types import MetricDirection, MetricSource, MetricType
from graphql_schema.mutations import run_mutation
from graphql_schema.partial import sent, sent_or_null
from graphql_schema.permissions import EDITOR, mutation
from graphql_schema.relay import parse_id


def _link(value: strawberry.ID | None, kind: str, field: str) -> UUID | None:
    return parse_id(value, kind, field=field) if value else None


def _maybe_link(value: Maybe[strawberry.ID | None], kind: str, field: str) -> Maybe[UUID | None]:
    return UNSET if value is UNSET else _link(value, kind, field)


@strawberry.input(description="Link it to exactly one of a touchpoint, a stage or a map.")
class CreateMetricInput:
    workspace_id: strawberry.ID
    name: str
    direction: MetricDirection
    unit: str | None = None
    target: float | None = None
    journey_map_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    touchpoint_id: strawberry.ID | None = None

    def to_command(self) -> CreateMetric:
        return CreateMetric(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspace_id"),
            name=self.name,
            direction=self.direction,
            unit=self.unit,
            target=self.target,
            journey_map_id=_link(self.journey_map_id, "JourneyMap", "journey_map_id"),
            stage_id=_link(self.stage_id, "Stage", "stage_id"),
            touchpoint_id=_link(self.touchpoint_id, "Touchpoint", "touchpoint_id"),
        )


@strawberry.input(description="Send only what changes; a new link replaces the old one.")
class UpdateMetricInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    direction: MetricDirection | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    target: float | None = strawberry.UNSET
    journey_map_id: strawberry.ID | None = strawberry.UNSET
    stage_id: strawberry.ID | None = strawberry.UNSET
    touchpoint_id: strawberry.ID | None = strawberry.UNSET

    def to_command(self) -> UpdateMetric:
        return UpdateMetric(
            metric_id=parse_id(self.id, "Metric", field="id"),
            name=sent(self.name, "name"),
            direction=sent(self.direction, "direction"),
            unit=sent_or_null(self.unit),
            target=sent_or_null(self.target),
            journey_map_id=_maybe_link(
                sent_or_null(self.journey_map_id), "JourneyMap", "journey_map_id"
            ),
            stage_id=_maybe_link(sent_or_null(self.stage_id), "Stage", "stage_id"),
            touchpoint_id=_maybe_link(
                sent_or_null(self.touchpoint_id), "Touchpoint", "touchpoint_id"
            ),
        )


@strawberry.input
class DeleteMetricInput:
    id: strawberry.ID


@strawberry.input
class MetricObservationInput:
    value: float
    observed_at: datetime


@strawberry.input(description="Up to 1,000 values; one at a moment already recorded replaces it.")
class RecordMetricValuesInput:
    metric_id: strawberry.ID
    values: list[MetricObservationInput]
    source: MetricSource = Source.MANUAL

    def to_command(self) -> RecordValues:
        return RecordValues(
            metric_id=parse_id(self.metric_id, "Metric", field="metric_id"),
            observations=tuple(Observation(v.value, v.observed_at) for v in self.values),
            source=self.source,
        )


@strawberry.type
class MetricPayload:
    metric: MetricType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteMetricPayload:
    deleted_metric_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordMetricValuesPayload:
    metric: MetricType | None = None
    recorded: int | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MetricMutations:
    @mutation(EDITOR, "Define a metric (KPI) on a touchpoint, stage or map.")
    async def create_metric(self, info: Info, input: CreateMetricInput) -> MetricPayload:
        async def action(session: AsyncSession) -> MetricPayload:
            found = await service.create_metric(session, info.context.access, input.to_command())
            return MetricPayload(metric=MetricType.from_model(found))

        return await run_mutation(info, MetricPayload, action)

    @mutation(EDITOR, "Change a metric's definition.")
    async def update_metric(self, info: Info, input: UpdateMetricInput) -> MetricPayload:
        async def action(session: AsyncSession) -> MetricPayload:
            found = await service.update_metric(session, info.context.access, input.to_command())
            return MetricPayload(metric=MetricType.from_model(found))

        return await run_mutation(info, MetricPayload, action)

    @mutation(EDITOR, "Delete a metric and its values; initiatives aiming at it lose the target.")
    async def delete_metric(self, info: Info, input: DeleteMetricInput) -> DeleteMetricPayload:
        async def action(session: AsyncSession) -> DeleteMetricPayload:
            metric_id = parse_id(input.id, "Metric", field="id")
            await service.delete_metric(session, info.context.access, metric_id)
            return DeleteMetricPayload(deleted_metric_id=input.id)

        return await run_mutation(info, DeleteMetricPayload, action)

    @mutation(EDITOR, "Record a metric's values (by hand, from an import or a feed).")
    async def record_metric_values(
        self, info: Info, input: RecordMetricValuesInput
    ) -> RecordMetricValuesPayload:
        async def action(session: AsyncSession) -> RecordMetricValuesPayload:
            metric, recorded = await service.record_values(
                session, info.context.access, input.to_command()
            )
            return RecordMetricValuesPayload(
                metric=MetricType.from_model(metric), recorded=recorded
            )

        return await run_mutation(info, RecordMetricValuesPayload, action)
