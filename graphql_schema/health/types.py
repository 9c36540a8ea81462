"""HealthScore, its components and explanation, and history points."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self
from uuid import UUID

import strawberry
from strawberry import relay

from backend import models
from backend.db.types import utcnow
from backend.health import alerts, explain, history, model
from backend.health.reads import score_of
from backend.models import AlertKind, HealthSubject
from graphql_schema.context import Info
from graphql_schema.health import guidance
from graphql_schema.loaded import lazy_type

if TYPE_CHECKING:
    from graphql_schema.feedback.types import FeedbackType

# Lazy: feedback's types import journeys', which import these (a touchpoint shows its health).
Feedback = Annotated["FeedbackType", strawberry.lazy("graphql_schema.feedback.types")]

HealthBucket = history.Bucket
strawberry.enum(HealthBucket, name="HealthBucket")
HealthSubjectKind = HealthSubject
strawberry.enum(HealthSubjectKind, name="HealthSubjectKind")

_TYPE_NAMES = {
    HealthSubject.TOUCHPOINT: "Touchpoint",
    HealthSubject.STAGE: "Stage",
    HealthSubject.JOURNEY_MAP: "JourneyMap",
    HealthSubject.WORKSPACE: "Workspace",
}


@strawberry.type(name="HealthComponent")
class HealthComponentType:
    name: str = strawberry.field(description="satisfaction, sentiment, pain or emotion.")
    value: float = strawberry.field(description="0 to 100.")
    weight: float = strawberry.field(description="Its share of the score (0 to 1).")
    sample_size: int
    prior_share: float = strawberry.field(
        description="How much of the value is the workspace mean rather than own feedback."
    )

    @classmethod
    def from_model(cls, c: model.Component) -> Self:
        return cls(
            name=c.name,
            value=c.value,
            weight=c.weight,
            sample_size=c.sample_size,
            prior_share=c.prior_share,
        )


@strawberry.type(name="HealthDriver", description="A part of the subject and how it pulls.")
class HealthDriverType:
    kind: HealthSubjectKind
    subject_id: strawberry.ID
    score: float
    share: float = strawberry.field(description="Its weight in the subject's score (0 to 1).")
    pull: float = strawberry.field(
        description="share x (its score - the subject's): negative drags the subject down."
    )
    pain_points = guidance.pain_points()
    initiatives = guidance.initiatives()


@strawberry.type(name="FeedbackInfluence")
class FeedbackInfluenceType:
    points: float = strawberry.field(
        description="What this item moves the score by, to first order: + raises, - lowers."
    )
    feedback_id: strawberry.Private[UUID]

    @strawberry.field
    async def feedback(self, info: Info) -> Feedback | None:
        feedback_type: type[FeedbackType] = lazy_type(Feedback)
        return await feedback_type.linked(info, self.feedback_id)


@strawberry.type(name="HealthExplanation")
class HealthExplanationType:
    summary: str
    components: list[HealthComponentType]
    drivers: list[HealthDriverType] = strawberry.field(
        description="The parts pulling the score down most first (none for a touchpoint)."
    )
    feedback: list[FeedbackInfluenceType] = strawberry.field(
        description="The feedback moving the score most, largest effect first."
    )
    about: strawberry.Private[guidance.About | None] = None
    themes = guidance.explanation_themes
    target = guidance.explanation_target
    gap = guidance.explanation_gap
    pain_points = guidance.pain_points()
    initiatives = guidance.initiatives()


@strawberry.type(name="HealthScore")
class HealthScoreType:
    score: float = strawberry.field(description="0 to 100.")
    components: list[HealthComponentType]
    sample_size: int = strawberry.field(description="Feedback items in the window.")
    confidence: float = strawberry.field(description="0 to 1: n / (n + 10).")
    trend: float | None = strawberry.field(
        description="Points up (+) or down (-) on the previous window; null without one."
    )
    previous_score: float | None
    previous_sample_size: int
    computed_at: datetime
    workspace_id: strawberry.Private[UUID]
    subject_id: strawberry.Private[UUID | None]
    subject_kind: strawberry.Private[HealthSubject | None]

    @classmethod
    def from_model(cls, row: models.HealthScore) -> Self:
        return cls.of(score_of(row), row.computed_at, row.workspace_id, row.id, row.subject_type)

    @classmethod
    def of(
        cls,
        score: model.Score,
        computed_at: datetime,
        workspace_id: UUID,
        subject_id: UUID | None = None,
        kind: HealthSubject | None = None,
    ) -> Self:
        return cls(
            score=score.score,
            components=[HealthComponentType.from_model(c) for c in score.components],
            sample_size=score.sample_size,
            confidence=score.confidence,
            trend=score.trend,
            previous_score=score.previous,
            previous_sample_size=score.previous_sample_size,
            computed_at=computed_at,
            workspace_id=workspace_id,
            subject_id=subject_id,
            subject_kind=kind,
        )

    @strawberry.field(description="Why: components, the parts pulling it, the feedback moving it.")
    async def explanation(self, info: Info) -> HealthExplanationType:
        components = self.components
        if self.subject_id is None or self.subject_kind is None:
            return HealthExplanationType(
                summary=f"{self.score:.1f}: the mean of its workspaces' scores.",
                components=components,
                drivers=[],
                feedback=[],
            )
        about = guidance.About(self.workspace_id, self.subject_kind, self.subject_id, self.score)
        async with info.context.read() as session:
            found = await explain.explain(
                session, self.workspace_id, self.subject_kind, self.subject_id
            )
        if found is None:
            return HealthExplanationType(
                summary="", components=components, drivers=[], feedback=[], about=about
            )
        return HealthExplanationType(
            summary=found.summary,
            components=components,
            drivers=[
                HealthDriverType(
                    kind=d.subject_type,
                    subject_id=strawberry.ID(
                        str(relay.GlobalID(_TYPE_NAMES[d.subject_type], str(d.subject_id)))
                    ),
                    score=d.score,
                    share=d.share,
                    pull=d.pull,
                )
                for d in found.drivers
            ],
            feedback=[
                FeedbackInfluenceType(points=i.points, feedback_id=i.feedback_id)
                for i in found.feedback
            ],
            about=about,
        )


@strawberry.type(name="HealthPoint", description="A subject's score at the end of a bucket.")
class HealthPointType:
    starts_at: datetime
    score: float
    sample_size: int
    confidence: float


async def health_of(info: Info, subject_id: str) -> HealthScoreType | None:
    """The stored score of a subject, batched with every other asked for in the request."""
    row = await info.context.loaders.health.score_by_subject.load(UUID(subject_id))
    return HealthScoreType.from_model(row) if row else None


HealthAlertKind = AlertKind
strawberry.enum(HealthAlertKind, name="HealthAlertKind")
StaleReason = alerts.StaleReason
strawberry.enum(StaleReason, name="StaleReason")


@strawberry.type(name="HealthSettings", description="A workspace's health thresholds.")
class HealthSettingsType:
    alert_below: float | None = strawberry.field(
        description="An alert when a map's or the workspace's score crosses it; null: none."
    )
    stale_after_days: int = strawberry.field(description="A map not reviewed this long is stale.")
    sharp_drop_points: float = strawberry.field(
        description="A map whose score fell this much on the previous window is stale."
    )
    target_score: float | None = strawberry.field(
        default=None, description="The score this workspace aims for (0 to 100); null: none."
    )

    @classmethod
    def of(cls, t: alerts.Thresholds, target_score: float | None = None) -> Self:
        return cls(
            alert_below=t.alert_below,
            stale_after_days=t.stale_after_days,
            sharp_drop_points=t.sharp_drop_points,
            target_score=target_score,
        )


@strawberry.type(name="HealthAlert", description="A score crossed the workspace's threshold.")
class HealthAlertType:
    kind: HealthAlertKind
    subject_kind: HealthSubjectKind
    subject_id: strawberry.ID
    threshold: float
    score_before: float | None
    score_after: float
    created_at: datetime

    @classmethod
    def from_model(cls, a: models.HealthAlert) -> Self:
        return cls(
            kind=a.kind,
            subject_kind=a.subject_type,
            subject_id=strawberry.ID(
                str(relay.GlobalID(_TYPE_NAMES[a.subject_type], str(a.subject_id)))
            ),
            threshold=a.threshold,
            score_before=a.score_before,
            score_after=a.score_after,
            created_at=a.created_at,
        )


@strawberry.type(name="Staleness")
class StalenessType:
    stale: bool
    reasons: list[StaleReason]
    last_reviewed_at: datetime | None
    review_due_at: datetime

    @classmethod
    def of(cls, found: alerts.Staleness) -> Self:
        return cls(
            stale=found.stale,
            reasons=list(found.reasons),
            last_reviewed_at=found.last_reviewed_at,
            review_due_at=found.review_due_at,
        )


async def thresholds_for(info: Info, workspace_id: UUID) -> alerts.Thresholds:
    row = await info.context.loaders.health.settings_by_workspace.load(workspace_id)
    if row is None:
        return alerts.Thresholds()
    return alerts.Thresholds(row.alert_below, row.stale_after_days, row.sharp_drop_points)


async def staleness_of(
    info: Info, map_id: UUID, workspace_id: UUID, created_at: datetime
) -> StalenessType:
    review = await info.context.loaders.health.review_by_map.load(map_id)
    score = await info.context.loaders.health.score_by_subject.load(map_id)
    found = alerts.staleness(
        created_at,
        review,
        score_of(score) if score else None,
        await thresholds_for(info, workspace_id),
        utcnow(),
    )
    return StalenessType.of(found)
