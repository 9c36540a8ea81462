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


strawberry.enum(
    outcome.OutcomeMethod,
    name="OutcomeMethod",
    description="DIFFERENCE_IN_DIFFERENCES: against comparable untouched touchpoints. "
    "BEFORE_AFTER: none to compare with, so seasonality is not controlled.",
)
strawberry.enum(outcome.OutcomeWarning, name="OutcomeWarning")


@strawberry.type(name="OutcomeWindow")
class OutcomeWindowType:
    starts_at: datetime
    ends_at: datetime
    score: float | None = strawberry.field(
        description="Mean item index (0 to 100, each answer on its own survey's scale) "
        "of the measured answers on the initiative's touchpoints."
    )
    sample_size: int


@strawberry.type(name="OutcomeInterval")
class OutcomeIntervalType:
    low: float
    high: float

    @classmethod
    def of(cls, bounds: tuple[float, float] | None) -> OutcomeIntervalType | None:
        return cls(low=bounds[0], high=bounds[1]) if bounds else None


@strawberry.type(
    name="OutcomeGroup",
    description="A group of touchpoints' mean item index (0 to 100) in each window.",
)
class OutcomeGroupType:
    before: float | None
    after: float | None
    answers_before: int
    answers_after: int
    touchpoints: int

    @classmethod
    def of(cls, group: outcome.Group) -> Self:
        return cls(
            before=group.before,
            after=group.after,
            answers_before=group.answers_before,
            answers_after=group.answers_after,
            touchpoints=group.touchpoints,
        )


@strawberry.type(
    name="TargetMetricTrend",
    description="The target metric after shipping against the line it followed before.",
)
class TargetMetricTrendType:
    observed: float = strawberry.field(description="Mean of its values after shipping.")
    projected: float = strawberry.field(description="What its pre-launch line predicted.")
    difference: float = strawberry.field(description="observed - projected.")
    interval: OutcomeIntervalType = strawberry.field(description="95 % prediction interval.")
    beyond_trend: bool = strawberry.field(description="The interval excludes 0.")
    slope_per_day: float
    points_before: int
    points_after: int

    @classmethod
    def of(cls, found: outcome.TrendCheck | None) -> TargetMetricTrendType | None:
        if found is None:
            return None
        low, high = found.interval
        return cls(
            observed=found.observed,
            projected=found.projected,
            difference=found.deviation.estimate,
            interval=OutcomeIntervalType(low=low, high=high),
            beyond_trend=found.beyond_trend,
            slope_per_day=found.slope_per_day,
            points_before=found.points_before,
            points_after=found.points_after,
        )


@strawberry.type(
    name="InitiativeOutcome",
    description="The change at the initiative's touchpoints in equal windows before and "
    "after shipping (up to 90 days each), less the change at comparable untouched "
    "touchpoints, in item-index points (docs/health-score.md).",
)
class InitiativeOutcomeType:
    method: outcome.OutcomeMethod
    estimate: float | None = strawberry.field(description="The effect, in item-index points.")
    interval: OutcomeIntervalType | None = strawberry.field(
        description="95 % Student t interval of the estimate."
    )
    degrees_of_freedom: float | None = strawberry.field(description="Welch-Satterthwaite.")
    p_value: float | None = strawberry.field(description="Two-sided.")
    standard_error: float | None = strawberry.field(description="Of the estimate.")
    significant: bool = strawberry.field(
        description="True when the interval excludes 0 and every group has enough answers."
    )
    treated: OutcomeGroupType = strawberry.field(description="The initiative's touchpoints.")
    controls: OutcomeGroupType | None = strawberry.field(
        description="The comparison touchpoints; null for BEFORE_AFTER."
    )
    control_count: int
    warnings: list[outcome.OutcomeWarning]
    target_metric_trend: TargetMetricTrendType | None = strawberry.field(
        description="Null without a target metric or with under 3 values before shipping."
    )
    before: OutcomeWindowType = strawberry.field(description="The initiative's touchpoints.")
    after: OutcomeWindowType = strawberry.field(description="The initiative's touchpoints.")
    change: float | None = strawberry.field(
        deprecation_reason="Unadjusted after - before at the initiative's touchpoints, "
        "season and regression to the mean included; read estimate."
    )

    @classmethod
    def of(cls, found: outcome.Outcome) -> Self:
        def window(w: outcome.Window) -> OutcomeWindowType:
            return OutcomeWindowType(
                starts_at=w.starts_at, ends_at=w.ends_at, score=w.score, sample_size=w.sample_size
            )

        analysis = found.analysis
        controls = analysis.controls
        difference = analysis.difference
        return cls(
            method=analysis.method,
            estimate=analysis.estimate,
            interval=OutcomeIntervalType.of(analysis.interval),
            degrees_of_freedom=difference.df if difference else None,
            p_value=analysis.p_value,
            standard_error=found.standard_error,
            significant=found.significant,
            treated=OutcomeGroupType.of(analysis.treated),
            controls=OutcomeGroupType.of(controls) if controls else None,
            control_count=controls.touchpoints if controls else 0,
            warnings=list(found.warnings),
            target_metric_trend=TargetMetricTrendType.of(found.target_trend),
            before=window(found.before),
            after=window(found.after),
            change=found.change,
        )


@strawberry.type(
    name="PlannedDetection",
    description="What the outcome could detect if the initiative shipped now, from its "
    "touchpoints' last 90 days: 80 % power, two-sided 5 % test, 90-day windows.",
)
class PlannedDetectionType:
    minimum_detectable_effect: float | None = strawberry.field(
        description="In item-index points; null with too few answers to test."
    )
    expected_answers: int = strawberry.field(
        description="Per window, at the initiative's touchpoints."
    )
    method: outcome.OutcomeMethod
    control_count: int

    @classmethod
    def of(cls, found: outcome.Detection) -> Self:
        return cls(
            minimum_detectable_effect=found.minimum_detectable_effect,
            expected_answers=found.expected_answers,
            method=found.method,
            control_count=found.controls,
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

    @strawberry.field(description="Null once shipped (the outcome speaks then).")
    async def planned_detection(self, info: Info) -> PlannedDetectionType | None:
        async with info.context.read() as session:
            found = await outcome.planned_detection(session, self.row)
        return PlannedDetectionType.of(found) if found else None
