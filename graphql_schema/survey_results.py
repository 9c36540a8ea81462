"""Survey results over GraphQL: NPS, CSAT, CES and RATING as survey tools report them,
per group, on Workspace, and for one subject on JourneyMap, Stage and Touchpoint.

Beside the domains' packages rather than in ``feedback``: the journey types show these
fields, and the feedback API already builds on the journey types (no cycles).

Group names come through the request's DataLoaders (one batched read per kind of
group), never a query per row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay

from backend.feedback import survey_results as service
from backend.feedback.survey_results import Grouping, Pooling, SurveyFilter, SurveyResultsQuery
from backend.measures.stats import CONFIDENCE
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Channel
from graphql_schema.context import Info
from graphql_schema.relay import decode_global_id

if TYPE_CHECKING:
    from graphql_schema.journeys.types import JourneyMapType, StageType, TouchpointType
    from graphql_schema.tenancy.types import WorkspaceType

strawberry.enum(Grouping, name="SurveyGrouping")
strawberry.enum(Pooling, name="SurveyPooling")

# The node type a group's subjectId names.
_NODE_TYPES = {
    Grouping.TOUCHPOINT: "Touchpoint",
    Grouping.STAGE: "Stage",
    Grouping.JOURNEY_MAP: "JourneyMap",
    Grouping.PERSONA: "Persona",
    Grouping.WORKSPACE: "Workspace",
}

From = Annotated[
    datetime | None,
    strawberry.argument(
        name="from",
        description="Answers given from then on; default 90 days "
        "before `to`. At most about three years at once.",
    ),
]
To = Annotated[
    datetime | None, strawberry.argument(description="Answers given before then; default now.")
]
Pool = Annotated[
    Pooling,
    strawberry.argument(
        description="DEFINITION: a row per survey definition (key and version). SCALE: "
        "every NPS pooled; CSAT, CES and RATING pooled only on the same scale and direction."
    ),
]


@strawberry.input(name="SurveyResultsFilter", description="Narrow the answers counted.")
class SurveyResultsFilterInput:
    journey_map_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    touchpoint_id: strawberry.ID | None = None
    survey_key: str | None = strawberry.field(
        default=None, description="Only answers to this survey definition key (any version)."
    )

    def to_filter(self) -> SurveyFilter | None:
        """The filter; None when an id names nothing this caller could see (no answers)."""
        ids: dict[str, UUID | None] = {}
        for name, type_name in (
            ("journey_map_id", "JourneyMap"),
            ("stage_id", "Stage"),
            ("touchpoint_id", "Touchpoint"),
        ):
            given = getattr(self, name)
            decoded = decode_global_id(given) if given else None
            if given and (decoded is None or decoded[0] != type_name):
                return None
            ids[name] = decoded[1] if decoded else None
        return SurveyFilter(**ids, survey_key=self.survey_key)


@strawberry.type(name="SurveyInterval", description="A 95 % confidence interval.")
class IntervalType:
    low: float
    high: float
    level: float = CONFIDENCE


@strawberry.type(name="NpsBreakdown", description="The three NPS classes; shares in %.")
class NpsBreakdownType:
    promoters: int = strawberry.field(description="Answers of 9 or 10.")
    passives: int = strawberry.field(description="Answers of 7 or 8.")
    detractors: int = strawberry.field(description="Answers of 0 to 6.")
    promoter_share: float
    passive_share: float
    detractor_share: float


@strawberry.type(name="SurveyScale", description="The survey the answers were given to.")
class SurveyScaleType:
    measure: MeasureKind
    scale_min: int
    scale_max: int
    higher_is_better: bool
    key: str | None = strawberry.field(
        description="The survey definition's key; null for answers that named none (read "
        "on the kind's default scale) and for rows pooled by scale."
    )
    version: int | None
    question: str | None


@strawberry.type(name="SurveyResultGroup", description="What a row of survey results is about.")
class SurveyResultGroupType:
    by: Grouping
    subject_id: strawberry.ID | None = strawberry.field(
        description="The touchpoint, stage, map, persona or workspace; null for answers "
        "placed on none (or for channel and time groups)."
    )
    channel: Channel | None
    starts_at: datetime | None = strawberry.field(description="A time bucket's start (UTC).")
    key: strawberry.Private[Any]

    @strawberry.field(
        description="The touchpoint's, stage's, persona's or workspace's name, the map's "
        "title, the channel or the bucket's first day; null for answers placed on none, or "
        "on something since removed."
    )
    async def name(self, info: Info) -> str | None:
        key = self.key
        if key is None:
            return None
        if isinstance(key, Channel):
            return str(key)
        if isinstance(key, date):
            return key.isoformat()
        loaders = info.context.loaders
        if self.by is Grouping.TOUCHPOINT:
            touchpoint = await loaders.journeys.touchpoint_by_id.load(key)
            return touchpoint.name if touchpoint else None
        if self.by is Grouping.STAGE:
            stage = await loaders.journeys.stage_by_id.load(key)
            return stage.name if stage else None
        if self.by is Grouping.JOURNEY_MAP:
            journey_map = await loaders.journeys.journey_map_by_id.load(key)
            return journey_map.title if journey_map else None
        if self.by is Grouping.PERSONA:
            persona = await loaders.journeys.persona_by_id.load(key)
            return persona.name if persona else None
        workspace = await loaders.tenancy.workspace_by_id.load(key)
        return workspace.name if workspace else None

    @classmethod
    def of(cls, by: Grouping, key: Any) -> SurveyResultGroupType:
        node = _NODE_TYPES.get(by)
        return cls(
            by=by,
            subject_id=strawberry.ID(str(relay.GlobalID(node, str(key)))) if node and key else None,
            channel=key if isinstance(key, Channel) else None,
            starts_at=datetime(key.year, key.month, key.day, tzinfo=UTC)
            if isinstance(key, date)
            else None,
            key=key,
        )


@strawberry.type(
    name="SurveyResult",
    description="One group's answers to one survey, as survey tools report them.",
)
class SurveyResultType:
    group: SurveyResultGroupType
    survey: SurveyScaleType
    answers: int = strawberry.field(description="How many answers (n).")
    value: float = strawberry.field(
        description="NPS: promoters % minus detractors % (-100 to 100). CSAT: % of answers "
        "in the top two boxes. CES and RATING: the mean answer on the survey's own scale, "
        "as answered (a lower-is-better scale is not turned round)."
    )
    interval: IntervalType | None = strawberry.field(
        description="95 %: Wilson for CSAT; Student t for means and for NPS (the usual NPS "
        "margin of error). Null below two answers, except for CSAT."
    )
    nps: NpsBreakdownType | None = strawberry.field(description="NPS rows only.")
    satisfied: int | None = strawberry.field(
        description="CSAT rows only: answers in the top two boxes."
    )

    @classmethod
    def of(cls, by: Grouping, r: service.SurveyResult) -> SurveyResultType:
        definition = r.definition
        nps = None
        if r.promoters is not None and r.passives is not None and r.detractors is not None:
            nps = NpsBreakdownType(
                promoters=r.promoters,
                passives=r.passives,
                detractors=r.detractors,
                promoter_share=100.0 * r.promoters / r.answers,
                passive_share=100.0 * r.passives / r.answers,
                detractor_share=100.0 * r.detractors / r.answers,
            )
        return cls(
            group=SurveyResultGroupType.of(by, r.group),
            survey=SurveyScaleType(
                measure=r.scale.kind,
                scale_min=r.scale.low,
                scale_max=r.scale.high,
                higher_is_better=r.scale.higher_is_better,
                key=definition.key if definition else None,
                version=definition.version if definition else None,
                question=definition.question if definition else None,
            ),
            answers=r.answers,
            value=r.value,
            interval=IntervalType(low=r.interval[0], high=r.interval[1]) if r.interval else None,
            nps=nps,
            satisfied=r.satisfied,
        )


async def _results(info: Info, query: SurveyResultsQuery) -> list[SurveyResultType]:
    async with info.context.read() as session:
        found = await service.survey_results(session, query)
    return [SurveyResultType.of(query.group_by, r) for r in found]


async def _subject_results(
    info: Info,
    workspace_id: UUID | None,
    group_by: Grouping,
    narrowed: SurveyFilter,
    period: tuple[datetime | None, datetime | None],
    pooling: Pooling,
) -> list[SurveyResultType]:
    """One subject's rows, grouped by the subject itself."""
    if workspace_id is None:  # removed since it was read: nothing to count
        return []
    query = SurveyResultsQuery(workspace_id, group_by, *period, narrowed, pooling)
    return await _results(info, query)


@strawberry.field(
    description="NPS, CSAT, CES and RATING as survey tools compute them, with n and a 95 % "
    "interval, per group and survey; answers on different scales are never averaged together."
)
async def workspace_survey_results(
    root: WorkspaceType,
    info: Info,
    group_by: Grouping = Grouping.WORKSPACE,
    from_: From = None,
    to: To = None,
    filter: SurveyResultsFilterInput | None = None,
    pool: Pool = Pooling.DEFINITION,
) -> list[SurveyResultType]:
    narrowed = filter.to_filter() if filter else SurveyFilter()
    if narrowed is None:
        return []
    return await _results(
        info, SurveyResultsQuery(UUID(root.id), group_by, from_, to, narrowed, pool)
    )


@strawberry.field(description="Its survey results (see Workspace.surveyResults).")
async def touchpoint_survey_results(
    root: TouchpointType,
    info: Info,
    from_: From = None,
    to: To = None,
    pool: Pool = Pooling.DEFINITION,
) -> list[SurveyResultType]:
    touchpoint_id = UUID(root.id)
    row = await info.context.loaders.journeys.touchpoint_by_id.load(touchpoint_id)
    return await _subject_results(
        info,
        row.workspace_id if row else None,
        Grouping.TOUCHPOINT,
        SurveyFilter(touchpoint_id=touchpoint_id),
        (from_, to),
        pool,
    )


@strawberry.field(description="Its survey results (see Workspace.surveyResults).")
async def stage_survey_results(
    root: StageType,
    info: Info,
    from_: From = None,
    to: To = None,
    pool: Pool = Pooling.DEFINITION,
) -> list[SurveyResultType]:
    stage_id = UUID(root.id)
    row = await info.context.loaders.journeys.stage_by_id.load(stage_id)
    return await _subject_results(
        info,
        row.workspace_id if row else None,
        Grouping.STAGE,
        SurveyFilter(stage_id=stage_id),
        (from_, to),
        pool,
    )


@strawberry.field(description="Its survey results (see Workspace.surveyResults).")
async def journey_map_survey_results(
    root: JourneyMapType,
    info: Info,
    from_: From = None,
    to: To = None,
    pool: Pool = Pooling.DEFINITION,
) -> list[SurveyResultType]:
    return await _subject_results(
        info,
        root.workspace_id,
        Grouping.JOURNEY_MAP,
        SurveyFilter(journey_map_id=UUID(root.id)),
        (from_, to),
        pool,
    )
