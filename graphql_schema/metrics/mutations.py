"""Mutations: createMetric, updateMetric, deleteMetric, recordMetricValues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.metrics import service
from backend.vocabulary.metrics import MetricSource as Source
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.input_fields import given
from graphql_schema.metrics.types import MetricDirection, MetricSource, MetricType
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import EDITOR, mutation
from graphql_schema.relay import parse_id

_LINKS = {
    "journey_map_id": ("JourneyMap", "journeyMapId"),
    "stage_id": ("Stage", "stageId"),
    "touchpoint_id": ("Touchpoint", "touchpointId"),
}


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


def _values(input: CreateMetricInput | UpdateMetricInput) -> dict[str, Any]:
    values = given(input, ("name", "direction", "unit", "target"), required=("name", "direction"))
    for name, (kind, field) in _LINKS.items():
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET:
            values[name] = parse_id(value, kind, field=field) if value else None
    return values


@strawberry.type
class MetricMutations:
    @mutation(EDITOR, "Define a metric (KPI) on a touchpoint, stage or map.")
    async def create_metric(self, info: Info, input: CreateMetricInput) -> MetricPayload:
        async def action(session: AsyncSession) -> MetricPayload:
            workspace_id = parse_id(input.workspace_id, "Workspace", field="workspaceId")
            found = await service.create_metric(
                session, info.context.access, workspace_id, _values(input)
            )
            return MetricPayload(metric=MetricType.from_model(found))

        return await run_mutation(info, MetricPayload, action)

    @mutation(EDITOR, "Change a metric's definition.")
    async def update_metric(self, info: Info, input: UpdateMetricInput) -> MetricPayload:
        async def action(session: AsyncSession) -> MetricPayload:
            metric_id = parse_id(input.id, "Metric", field="id")
            found = await service.update_metric(
                session, info.context.access, metric_id, _values(input)
            )
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
            metric_id = parse_id(input.metric_id, "Metric", field="metricId")
            metric, recorded = await service.record_values(
                session,
                info.context.access,
                metric_id,
                [(v.value, v.observed_at) for v in input.values],
                input.source,
            )
            return RecordMetricValuesPayload(
                metric=MetricType.from_model(metric), recorded=recorded
            )

        return await run_mutation(info, RecordMetricValuesPayload, action)
