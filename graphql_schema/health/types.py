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
    from graphql_schema.dataloaders import Loaders
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


HealthState = model.State
strawberry.enum(HealthState, name="HealthState")
HealthMetric = model.Metric
strawberry.enum(HealthMetric, name="HealthMetric")


@strawberry.type(name="HealthComponent")
class HealthComponentType:
    name: str = strawberry.field(
        description="csat, nps, ces, rating, sentiment, or prior (open pain points and the "
        "mapped emotion)."
    )
    value: float = strawberry.field(
        description="0 to 100: the metric's index (NPS: (NPS + 100) / 2; CSAT: the top-2-box "
        "%; CES and ratings: the mean answer's place on its own scale, best = 100)."
    )
    weight: float = strawberry.field(
        description="Its share of the score (0 to 1); value x weight summed is the score."
    )
    sample_size: int
    prior_share: float = strawberry.field(
        description="For the prior: its weight k / (k + n), falling as answers accumulate."
    )
    low: float | None = strawberry.field(description="The 95 % interval of the value.")
    high: float | None
    headline: float | None = strawberry.field(
        description="As survey tools report it: NPS -100 to 100, CSAT %; null otherwise."
    )

    @classmethod
    def from_model(cls, c: model.Component) -> Self:
        return cls(
            name=c.name,
            value=c.value,
            weight=c.weight,
            sample_size=c.sample_size,
            prior_share=c.prior_share,
            low=c.low,
            high=c.high,
            headline=c.headline,
        )


@strawberry.type(
    name="HealthDriver", description="A part of the subject and what fixing it is worth."
)
class HealthDriverType:
    kind: HealthSubjectKind
    subject_id: strawberry.ID
    name: str = strawberry.field(description="The touchpoint's, stage's or map's name.")
    state: HealthState
    score: float | None
    share: float = strawberry.field(
        description="Its weight in the subject's score (0 to 1): importance, not volume."
    )
    gap: float | None = strawberry.field(
        description="The workspace's target minus its score: + is short of the target."
    )
    lift: float = strawberry.field(
        description="Points the subject would gain if this part reached the target."
    )
    own_feedback: bool = strawberry.field(
        description="Feedback placed on the subject itself, on none of its parts."
    )
    pull: float = strawberry.field(
        description="share x (its score - the subject's).",
        deprecation_reason="A distance from the average hides a failing part; use lift.",
    )

    pain_points = guidance.pain_points()
    initiatives = guidance.initiatives()

    @classmethod
    def of(cls, d: explain.Driver) -> Self:
        return cls(
            kind=d.subject_type,
            subject_id=strawberry.ID(
                str(relay.GlobalID(_TYPE_NAMES[d.subject_type], str(d.subject_id)))
            ),
            name=d.name,
            state=d.state,
            score=d.score,
            share=d.share,
            gap=d.gap,
            lift=d.lift,
            own_feedback=d.own_feedback,
            pull=d.pull,
        )


@strawberry.type(name="HealthConcern", description="Unfavourable answers of one metric.")
class HealthConcernType:
    metric: HealthMetric
    unfavourable: int = strawberry.field(
        description="NPS detractors, CSAT outside the top two boxes, CES or ratings in the "
        "worse half of the scale, texts with negative sentiment."
    )
    answers: int = strawberry.field(description="All answers of the metric in the window.")
    example_ids: strawberry.Private[list[UUID]]

    @strawberry.field(description="A few of the latest unfavourable items, those with text first.")
    async def examples(self, info: Info) -> list[Feedback]:
        feedback_type: type[FeedbackType] = lazy_type(Feedback)
        return await feedback_type.linked_many(info, self.example_ids)


@strawberry.type(name="FeedbackInfluence")
class FeedbackInfluenceType:
    points: float
    feedback_id: strawberry.Private[UUID]

    @strawberry.field
    async def feedback(self, info: Info) -> Feedback | None:
        feedback_type: type[FeedbackType] = lazy_type(Feedback)
        return await feedback_type.linked(info, self.feedback_id)


@strawberry.type(name="HealthExplanation")
class HealthExplanationType:
    summary: str = strawberry.field(description="In plain words, with names.")
    components: list[HealthComponentType]
    drivers: list[HealthDriverType] = strawberry.field(
        description="The parts whose fixing would lift the score most first (none for a "
        "touchpoint); parts without a score last."
    )
    concerns: list[HealthConcernType] = strawberry.field(
        description="Per metric, the unfavourable answers in the window, worst share first."
    )
    feedback: list[FeedbackInfluenceType] = strawberry.field(
        description="Always empty.",
        deprecation_reason="Single items barely move a score; read concerns.",
    )
    about: strawberry.Private[guidance.About | None] = None
    themes = guidance.explanation_themes
    target = guidance.explanation_target
    gap = guidance.explanation_gap
    pain_points = guidance.pain_points()
    initiatives = guidance.initiatives()


@strawberry.type(name="HealthScore")
class HealthScoreType:
    state: HealthState
    score: float | None = strawberry.field(
        description="0 to 100; null while there is too little evidence (state says so)."
    )
    low: float | None = strawberry.field(description="The 95 % interval around the score.")
    high: float | None
    components: list[HealthComponentType]
    sample_size: int = strawberry.field(
        description="Answers and scored texts in the window behind the score."
    )
    confidence: float | None = strawberry.field(
        description="1 - the interval's width / 100: 1 is exact, 0 is anywhere from 0 to "
        "100; null without a score."
    )
    trend: float | None = strawberry.field(
        description="Points up (+) or down (-) on the previous window; null without one."
    )
    previous_score: float | None
    previous_sample_size: int
    scored_parts: int = strawberry.field(
        description="For a stage, map or workspace: its parts that have a score."
    )
    parts: int = strawberry.field(description="For a stage, map or workspace: its parts.")
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
            state=score.state,
            score=score.score,
            low=score.low,
            high=score.high,
            components=[HealthComponentType.from_model(c) for c in score.components],
            sample_size=score.sample_size,
            confidence=score.confidence,
            trend=score.trend,
            previous_score=score.previous,
            previous_sample_size=score.previous_sample_size,
            scored_parts=score.scored_parts,
            parts=score.parts,
            computed_at=computed_at,
            workspace_id=workspace_id,
            subject_id=subject_id,
            subject_kind=kind,
        )

    @strawberry.field(description="Why: components, the parts to fix first, the concerns.")
    async def explanation(self, info: Info) -> HealthExplanationType:
        components = self.components
        if self.subject_id is None or self.subject_kind is None:
            summary = (
                "No workspace has a score yet."
                if self.score is None
                else f"{self.score:.1f}: the mean of its scored workspaces."
            )
            return HealthExplanationType(
                summary=summary, components=components, drivers=[], concerns=[], feedback=[]
            )
        about = guidance.About(self.workspace_id, self.subject_kind, self.subject_id, self.score)
        async with info.context.read() as session:
            found = await explain.explain(
                session, self.workspace_id, self.subject_kind, self.subject_id
            )
        if found is None:
            return HealthExplanationType(
                summary="", components=components, drivers=[], concerns=[], feedback=[], about=about
            )
        return HealthExplanationType(
            summary=found.summary,
            components=components,
            drivers=[HealthDriverType.of(d) for d in found.drivers],
            concerns=[
                HealthConcernType(
                    metric=c.metric,
                    unfavourable=c.unfavourable,
                    answers=c.answers,
                    example_ids=c.examples,
                )
                for c in found.concerns
            ],
            feedback=[],
            about=about,
        )


@strawberry.type(name="HealthPoint", description="A subject's score at the end of a bucket.")
class HealthPointType:
    starts_at: datetime
    score: float | None = strawberry.field(description="Null: too little evidence that day.")
    sample_size: int
    confidence: float | None
    low: float | None = strawberry.field(
        default=None, description="The low end of the score's 95 % interval that day."
    )
    high: float | None = strawberry.field(
        default=None, description="The high end of the score's 95 % interval that day."
    )


async def health_of(info: Info, subject_id: str) -> HealthScoreType | None:
    """The stored score of a subject, batched with every other asked for in the request."""
    return (await scores_of(info.context.loaders, [subject_id]))[0]


async def scores_of(loaders: Loaders, subject_ids: list[str]) -> list[HealthScoreType | None]:
    """``health_of`` for many subjects at once (the planned executor's form of it)."""
    rows = await loaders.health.score_by_subject.load_many([UUID(s) for s in subject_ids])
    return [HealthScoreType.from_model(row) if row else None for row in rows]


HealthAlertKind = AlertKind
strawberry.enum(HealthAlertKind, name="HealthAlertKind")
StaleReason = alerts.StaleReason
strawberry.enum(StaleReason, name="StaleReason")


@strawberry.type(name="HealthSettings", description="A workspace's health thresholds.")
class HealthSettingsType:
    alert_below: float | None = strawberry.field(
        description="An alert when a touchpoint's, map's or the workspace's score crosses it; "
        "null: none."
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
