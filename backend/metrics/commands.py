"""What callers ask of metrics, as typed commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from backend.patch import UNSET, Maybe
from backend.vocabulary.metrics import MetricDirection, MetricSource


@dataclass(frozen=True, slots=True)
class CreateMetric:
    """A new metric, linked to exactly one of a journey map, a stage or a touchpoint."""

    workspace_id: UUID
    name: str
    direction: MetricDirection
    unit: str | None = None
    target: float | None = None
    journey_map_id: UUID | None = None
    stage_id: UUID | None = None
    touchpoint_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class UpdateMetric:
    """The fields to change; a link given (not None) replaces the metric's link."""

    metric_id: UUID
    name: Maybe[str] = UNSET
    direction: Maybe[MetricDirection] = UNSET
    unit: Maybe[str | None] = UNSET
    target: Maybe[float | None] = UNSET
    journey_map_id: Maybe[UUID | None] = UNSET
    stage_id: Maybe[UUID | None] = UNSET
    touchpoint_id: Maybe[UUID | None] = UNSET


@dataclass(frozen=True, slots=True)
class Observation:
    value: float
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class RecordValues:
    """Observations of a metric; one at a moment already recorded replaces it."""

    metric_id: UUID
    observations: tuple[Observation, ...]
    source: MetricSource = MetricSource.MANUAL
