"""Object types: Persona, JourneyMap, Stage, Touchpoint, JourneyMapRevision."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Self, TypeVar
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from backend import models
from backend.db.pagination import PageRequest
from backend.journeys import revisions
from backend.journeys.repository import MapRepository
from backend.vocabulary import journeys as vocabulary
from graphql_schema import survey_results as survey_results_fields
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.health.history import health_history_field
from graphql_schema.health.types import (
    HealthScoreType,
    StalenessType,
    health_of,
    scores_of,
    staleness_of,
)
from graphql_schema.identity.types import UserType
from graphql_schema.relations import relation
from graphql_schema.relay import Connection, LoaderNode

MapStatus = vocabulary.MapStatus
strawberry.enum(MapStatus, name="JourneyMapStatus")
Scenario = vocabulary.Scenario
strawberry.enum(Scenario, name="JourneyScenario")
MapTemplate = vocabulary.MapTemplate
strawberry.enum(MapTemplate, name="JourneyMapTemplate")
MapOrder = vocabulary.MapOrder
strawberry.enum(MapOrder, name="JourneyMapOrder")
Channel = vocabulary.Channel
strawberry.enum(Channel, name="Channel")
Device = vocabulary.Device
strawberry.enum(Device, name="Device")


@strawberry.type(name="Persona")
class PersonaType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    name: str
    summary: str
    quote: str
    age_min: int | None
    age_max: int | None
    occupation: str
    location: str
    goals: list[str]
    frustrations: list[str]
    behaviors: list[str]
    preferred_channels: list[Channel]
    segment_share: float | None = strawberry.field(description="Share of customers, 0 to 1.")
    avatar_url: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Persona | None]:
        return loaders.journeys.persona_by_id

    @classmethod
    def from_model(cls, p: models.Persona) -> Self:
        return cls(
            id=str(p.id),
            name=p.name,
            summary=p.summary,
            quote=p.quote,
            age_min=p.age_min,
            age_max=p.age_max,
            occupation=p.occupation,
            location=p.location,
            goals=list(p.goals),
            frustrations=list(p.frustrations),
            behaviors=list(p.behaviors),
            preferred_channels=[vocabulary.Channel(c) for c in p.preferred_channels],
            segment_share=p.segment_share,
            avatar_url=p.avatar_url,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


Severity = vocabulary.Severity
strawberry.enum(Severity, name="Severity")
PainPointStatus = vocabulary.PainPointStatus
strawberry.enum(PainPointStatus, name="PainPointStatus")
OpportunityStatus = vocabulary.OpportunityStatus
strawberry.enum(OpportunityStatus, name="OpportunityStatus")


def _gid(type_name: str, uuid: UUID) -> strawberry.ID:
    return strawberry.ID(str(relay.GlobalID(type_name=type_name, node_id=str(uuid))))


class OnTouchpoint(LoaderNode):
    """A Node kept on a touchpoint: found by id as its touchpoint is, only on a live map
    (a deleted map takes what it holds out of reach, as it does its stages)."""

    touchpoint_id: UUID  # each subclass's own, a strawberry.Private field

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # LoaderNode's, then the map's check
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        found = await super().resolve_nodes(info=info, node_ids=node_ids, required=required)
        touchpoints = await TouchpointType.linked_each(
            info.context.loaders, [None if n is None else n.touchpoint_id for n in found]
        )
        return [n if t is not None else None for n, t in zip(found, touchpoints, strict=True)]


@strawberry.type(name="PainPoint")
class PainPointType(OnTouchpoint):
    id: relay.NodeID[str]
    title: str
    description: str
    severity: Severity
    status: PainPointStatus
    created_at: datetime
    touchpoint_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.PainPoint | None]:
        return loaders.journeys.pain_point_by_id

    @classmethod
    def from_model(cls, p: models.PainPoint) -> Self:
        return cls(
            id=str(p.id),
            title=p.title,
            description=p.description,
            severity=p.severity,
            status=p.status,
            created_at=p.created_at,
            touchpoint_id=p.touchpoint_id,
        )


@strawberry.type(name="Opportunity")
class OpportunityType(OnTouchpoint):
    id: relay.NodeID[str]
    title: str
    description: str
    status: OpportunityStatus
    pain_point_id: strawberry.ID | None = strawberry.field(description="The pain point it answers.")
    created_at: datetime
    touchpoint_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Opportunity | None]:
        return loaders.journeys.opportunity_by_id

    @classmethod
    def from_model(cls, o: models.Opportunity) -> Self:
        return cls(
            id=str(o.id),
            title=o.title,
            description=o.description,
            status=o.status,
            pain_point_id=_gid("PainPoint", o.pain_point_id) if o.pain_point_id else None,
            created_at=o.created_at,
            touchpoint_id=o.touchpoint_id,
        )


@strawberry.type(
    name="PersonaEmotion", description="How one persona feels here, now and aimed for."
)
class PersonaEmotionType:
    current: int | None
    target: int | None
    persona_id: strawberry.Private[UUID]

    @strawberry.field
    async def persona(self, info: Info) -> PersonaType | None:
        return await PersonaType.linked(info, self.persona_id)


@strawberry.type(
    name="MatchKeys", description="Ingested feedback carrying one of these attaches here."
)
class MatchKeysType:
    event_names: list[str]
    url_patterns: list[str]
    survey_ids: list[str]


@strawberry.type(name="Touchpoint")
class TouchpointType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    name: str
    description: str
    position: int
    channel: Channel | None
    device: Device | None
    customer_actions: list[str]
    customer_goals: list[str]
    questions: list[str]
    emotion: int | None = strawberry.field(description="The mapped feeling, -2 to +2.")
    moment_of_truth: bool
    traffic: int | None = strawberry.field(
        description="Customers passing through in a typical month, as the team declares it."
    )
    owning_department: str
    match_keys: MatchKeysType

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Touchpoint | None]:
        return loaders.journeys.touchpoint_by_id

    @classmethod
    def from_model(cls, t: models.Touchpoint) -> Self:
        keys = t.match_keys or {}
        return cls(
            id=str(t.id),
            name=t.name,
            description=t.description,
            position=t.position,
            channel=t.channel,
            device=t.device,
            customer_actions=list(t.customer_actions),
            customer_goals=list(t.customer_goals),
            questions=list(t.questions),
            emotion=t.emotion,
            moment_of_truth=t.moment_of_truth,
            traffic=t.traffic,
            owning_department=t.owning_department,
            match_keys=MatchKeysType(
                event_names=list(keys.get("event_names", [])),
                url_patterns=list(keys.get("url_patterns", [])),
                survey_ids=list(keys.get("survey_ids", [])),
            ),
        )

    @strawberry.field
    async def pain_points(self, info: Info) -> list[PainPointType]:
        return (await touchpoint_pain_points(info.context.loaders, [self]))[0]

    @strawberry.field
    async def opportunities(self, info: Info) -> list[OpportunityType]:
        return (await touchpoint_opportunities(info.context.loaders, [self]))[0]

    @strawberry.field(description="Per persona on the map: current and target emotion.")
    async def persona_emotions(self, info: Info) -> list[PersonaEmotionType]:
        rows = await info.context.loaders.journeys.emotions_by_touchpoint.load(UUID(self.id))
        return [
            PersonaEmotionType(current=e.current, target=e.target, persona_id=e.persona_id)
            for e in rows
        ]

    @strawberry.field(description="Its health score; null until first calculated.")
    async def health(self, info: Info) -> HealthScoreType | None:
        return await health_of(info, self.id)

    survey_results = survey_results_fields.touchpoint_survey_results
    health_history = health_history_field()


@strawberry.type(name="Stage")
class StageType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    name: str
    description: str
    position: int
    customer_goals: list[str]
    questions: list[str]
    journey_map_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Stage | None]:
        return loaders.journeys.stage_by_id

    @classmethod
    def from_model(cls, s: models.Stage) -> Self:
        return cls(
            id=str(s.id),
            name=s.name,
            description=s.description,
            position=s.position,
            customer_goals=list(s.customer_goals),
            questions=list(s.questions),
            journey_map_id=s.journey_map_id,
        )

    @strawberry.field(description="In order.")
    async def touchpoints(self, info: Info) -> list[TouchpointType]:
        return (await stage_touchpoints(info.context.loaders, [self]))[0]

    @strawberry.field(description="Its health score; null until first calculated.")
    async def health(self, info: Info) -> HealthScoreType | None:
        return await health_of(info, self.id)

    survey_results = survey_results_fields.stage_survey_results
    health_history = health_history_field()


_T = TypeVar("_T")
RevisionAction = vocabulary.RevisionAction
strawberry.enum(
    RevisionAction,
    name="JourneyMapRevisionAction",
    description="What made a revision: the change, named as the audit trail's action "
    "(STAGE_ADD is stage.add). UNKNOWN: one this version of the server does not know.",
)
ChangeKind = vocabulary.ChangeKind
strawberry.enum(ChangeKind, name="RevisionChangeKind", description="How the two versions differ.")


@strawberry.type(name="JourneyMapRevision", description="The whole map as it was at a version.")
class RevisionType:
    version: int
    action: RevisionAction
    restored_version: int | None = strawberry.field(
        description="The version a JOURNEY_MAP_RESTORE brought back; null otherwise."
    )
    created_at: datetime
    snapshot: JSON
    created_by_id: strawberry.Private[UUID | None]
    copied_from_id: strawberry.Private[UUID | None]

    @classmethod
    def from_model(cls, r: models.JourneyMapRevision) -> Self:
        action = RevisionAction.of(r.action)
        _, _, detail = r.action.partition(":")
        return cls(
            version=r.version,
            action=action,
            restored_version=_detail(detail, int)
            if action is RevisionAction.JOURNEY_MAP_RESTORE
            else None,
            created_at=r.created_at,
            snapshot=JSON(r.snapshot),
            created_by_id=r.created_by,
            copied_from_id=_detail(detail, UUID)
            if action is RevisionAction.JOURNEY_MAP_DUPLICATE
            else None,
        )

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        return await UserType.linked(info, self.created_by_id)

    @strawberry.field(
        description="The map a JOURNEY_MAP_DUPLICATE copied; null otherwise, or once that "
        "map is deleted or gone."
    )
    async def copied_from(self, info: Info) -> JourneyMapType | None:
        return await JourneyMapType.linked(info, self.copied_from_id)


def _detail(text: str, kind: Callable[[str], _T]) -> _T | None:
    """What a stored action holds after its ``:``, as ``kind``; None if it holds none."""
    try:
        return kind(text) if text else None
    except ValueError:
        return None


@strawberry.type(name="RevisionChange", description="One difference between two versions.")
class RevisionChangeType:
    path: str = strawberry.field(description='Like "stages/<id>/touchpoints/<id>/name".')
    kind: ChangeKind
    before: JSON | None
    after: JSON | None


@strawberry.type(name="JourneyMap")
class JourneyMapType(LoaderNode):
    id: strawberry.relay.NodeID[str]
    title: str
    description: str
    objectives: list[str]
    status: MapStatus
    scenario: Scenario
    departments: list[str] = strawberry.field(description="Stakeholder departments.")
    version: int = strawberry.field(
        description="Increments on every change to the map or anything inside it."
    )
    created_at: datetime
    updated_at: datetime
    workspace_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.JourneyMap | None]:
        return loaders.journeys.journey_map_by_id

    @classmethod
    def from_model(cls, m: models.JourneyMap) -> Self:
        return cls(
            id=str(m.id),
            title=m.title,
            description=m.description,
            objectives=list(m.objectives),
            status=m.status,
            scenario=m.scenario,
            departments=list(m.departments),
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            workspace_id=m.workspace_id,
        )

    @strawberry.field(description="In the order given.")
    async def personas(self, info: Info) -> list[PersonaType]:
        ids = await info.context.loaders.journeys.persona_ids_by_map.load(UUID(self.id))
        return await PersonaType.linked_many(info, ids)

    @strawberry.field(description="In order.")
    async def stages(self, info: Info) -> list[StageType]:
        return (await map_stages(info.context.loaders, [self]))[0]

    @strawberry.field(description="Its health score; null until first calculated.")
    async def health(self, info: Info) -> HealthScoreType | None:
        return await health_of(info, self.id)

    survey_results = survey_results_fields.journey_map_survey_results

    @strawberry.field(
        description="Stale when nobody reviewed it for the workspace's set time, or its "
        "health fell sharply."
    )
    async def staleness(self, info: Info) -> StalenessType:
        return await staleness_of(info, UUID(self.id), self.workspace_id, self.created_at)

    health_history = health_history_field()

    @strawberry.field(description="What changed from one version to another.")
    async def diff(
        self, info: Info, from_version: int, to_version: int
    ) -> list[RevisionChangeType]:
        async with info.context.read() as session:
            old = await revisions.revision(
                session, UUID(self.id), from_version, field="fromVersion"
            )
            new = await revisions.revision(session, UUID(self.id), to_version, field="toVersion")
        return [
            RevisionChangeType(
                path=change.path,
                kind=change.kind,
                before=JSON(change.before),
                after=JSON(change.after),
            )
            for change in revisions.diff(old.snapshot, new.snapshot)
        ]

    @strawberry.field(description="Newest first.")
    async def revisions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[RevisionType]:
        async with info.context.read() as session:
            page = await MapRepository(session).revisions_page(
                UUID(self.id), PageRequest(first, after, last, before)
            )
        return Connection.from_page(page, RevisionType.from_model)


# The batch forms of the resolvers above (graphql_schema.relations): the resolvers call
# them with one parent, the planned executor (graphql_schema.engine) with all of a level.


@relation(("Touchpoint", "painPoints"))
async def touchpoint_pain_points(
    loaders: Loaders, touchpoints: list[TouchpointType]
) -> list[list[PainPointType]]:
    found = await loaders.journeys.pain_points_by_touchpoint.load_many(
        [UUID(t.id) for t in touchpoints]
    )
    return [[PainPointType.from_model(p) for p in rows] for rows in found]


@relation(("Touchpoint", "opportunities"))
async def touchpoint_opportunities(
    loaders: Loaders, touchpoints: list[TouchpointType]
) -> list[list[OpportunityType]]:
    found = await loaders.journeys.opportunities_by_touchpoint.load_many(
        [UUID(t.id) for t in touchpoints]
    )
    return [[OpportunityType.from_model(o) for o in rows] for rows in found]


@relation(("Stage", "touchpoints"))
async def stage_touchpoints(
    loaders: Loaders, stages: list[StageType]
) -> list[list[TouchpointType]]:
    found = await loaders.journeys.touchpoints_by_map.load_many([s.journey_map_id for s in stages])
    # A map's touchpoints come as one list for all its stages: split it once per map.
    by_stage: dict[int, dict[str, list[TouchpointType]]] = {}
    for rows in found:
        if id(rows) not in by_stage:
            split = by_stage[id(rows)] = {}
            for row in rows:
                split.setdefault(str(row.stage_id), []).append(TouchpointType.from_model(row))
    return [
        list(by_stage[id(rows)].get(stage.id, ()))
        for stage, rows in zip(stages, found, strict=True)
    ]


@relation(("JourneyMap", "stages"))
async def map_stages(loaders: Loaders, maps: list[JourneyMapType]) -> list[list[StageType]]:
    found = await loaders.journeys.stages_by_map.load_many([UUID(m.id) for m in maps])
    return [[StageType.from_model(s) for s in rows] for rows in found]


@relation(("JourneyMap", "health"), ("Stage", "health"), ("Touchpoint", "health"))
async def subject_health(
    loaders: Loaders, subjects: list[JourneyMapType | StageType | TouchpointType]
) -> list[HealthScoreType | None]:
    return await scores_of(loaders, [s.id for s in subjects])
