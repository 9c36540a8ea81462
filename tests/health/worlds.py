"""Small journey worlds written straight into the database, for health tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from uuid import UUID

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import Feedback, JourneyMap, PainPoint, Stage, Touchpoint
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, SentimentStatus
from backend.vocabulary.journeys import MapStatus, PainPointStatus, Severity

_serial = count()


@dataclass
class World:
    workspace_id: UUID
    map_id: UUID
    stage_ids: list[UUID] = field(default_factory=list)
    touchpoint_ids: list[UUID] = field(default_factory=list)
    stage_of: dict[UUID, UUID] = field(default_factory=dict)  # touchpoint -> its stage

    def binding(self) -> TenantBinding:
        return TenantBinding(frozenset({self.workspace_id}))


async def build_world(
    db: Database,
    workspace_id: UUID,
    *,
    stages: int = 2,
    touchpoints_per_stage: int = 2,
    emotions: bool = True,
) -> World:
    """An active current-state map with stages and touchpoints (the second is a moment of
    truth); touchpoints carry a mapped emotion unless ``emotions`` is off."""
    async with db.transaction(TenantBinding(frozenset({workspace_id})), write=True) as session:
        bind_actor(session, Actor.system())
        journey_map = JourneyMap(
            workspace_id=workspace_id, title="Journey", status=MapStatus.ACTIVE
        )
        session.add(journey_map)
        await session.flush()
        world = World(workspace_id, journey_map.id)
        for s in range(stages):
            stage = Stage(
                workspace_id=workspace_id, journey_map_id=journey_map.id, position=s, name=f"S{s}"
            )
            session.add(stage)
            await session.flush()
            world.stage_ids.append(stage.id)
            for t in range(touchpoints_per_stage):
                touchpoint = Touchpoint(
                    workspace_id=workspace_id,
                    journey_map_id=journey_map.id,
                    stage_id=stage.id,
                    position=t,
                    name=f"T{s}.{t}",
                    moment_of_truth=t == 1,
                    emotion=(s + t) % 5 - 2 if emotions else None,
                )
                session.add(touchpoint)
                await session.flush()
                world.touchpoint_ids.append(touchpoint.id)
                world.stage_of[touchpoint.id] = stage.id
    return world


async def add_feedback(
    db: Database,
    world: World,
    touchpoint_id: UUID | None,
    *,
    measure: MeasureKind | None = MeasureKind.CSAT,
    value: int | None = 4,
    sentiment: float | None = None,
    occurred_at: datetime,
    stage_id: UUID | None = None,
    text: str = "",
) -> UUID:
    """Feedback on a touchpoint (placed on its stage and map too, as ingestion places
    it), or with ``touchpoint_id`` None on ``stage_id`` or else on the map alone. A
    sentiment given is SCORED; without one the text is UNSCORED."""
    async with db.transaction(world.binding(), write=True) as session:
        row = _feedback(
            world, touchpoint_id, stage_id, measure, value, sentiment, text, occurred_at
        )
        session.add(row)
        await session.flush()
        return row.id


async def add_many(
    db: Database,
    world: World,
    touchpoint_id: UUID | None,
    answers: list[tuple[MeasureKind | None, int | None]],
    *,
    occurred_at: datetime,
    sentiment: float | None = None,
    stage_id: UUID | None = None,
    text: str = "",
) -> None:
    """Many answers at once (one transaction), placed as ``add_feedback`` places one."""
    async with db.transaction(world.binding(), write=True) as session:
        session.add_all(
            _feedback(world, touchpoint_id, stage_id, kind, value, sentiment, text, occurred_at)
            for kind, value in answers
        )


def _feedback(
    world: World,
    touchpoint_id: UUID | None,
    stage_id: UUID | None,
    measure: MeasureKind | None,
    value: int | None,
    sentiment: float | None,
    text: str,
    occurred_at: datetime,
) -> Feedback:
    """One item placed as ingestion places it: a touchpoint's stage and map too."""
    if touchpoint_id is not None:
        stage_id = world.stage_of.get(touchpoint_id)
    return Feedback(
        workspace_id=world.workspace_id,
        source=FeedbackSource.SURVEY,
        external_id=f"fb-{next(_serial)}",
        journey_map_id=world.map_id,
        stage_id=stage_id,
        touchpoint_id=touchpoint_id,
        measure=measure,
        measure_value=value,
        sentiment=sentiment,
        sentiment_status=SentimentStatus.UNSCORED if sentiment is None else SentimentStatus.SCORED,
        text=text,
        occurred_at=occurred_at,
    )


async def add_pain(
    db: Database,
    world: World,
    touchpoint_id: UUID,
    severity: Severity,
    *,
    title: str = "It hurts",
    status: PainPointStatus = PainPointStatus.OPEN,
) -> UUID:
    async with db.transaction(world.binding(), write=True) as session:
        pain = PainPoint(
            workspace_id=world.workspace_id,
            touchpoint_id=touchpoint_id,
            title=title,
            severity=severity,
            status=status,
        )
        session.add(pain)
        await session.flush()
        return pain.id


def days_ago(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)
