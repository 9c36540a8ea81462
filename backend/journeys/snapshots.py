"""A map as one JSON document (what every revision stores), and a map rebuilt from one.

``snapshot`` and ``materialize`` are each other's inverse, so what a revision shows is
exactly what restoring or copying it brings back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.chain import to_stored_json
from backend.db.base import Base
from backend.db.engine import SQL_SNAPSHOTS
from backend.journeys import snapshot_sql
from backend.journeys.repository import MapRepository, PersonaRepository, StructureRepository
from backend.journeys.snapshot_sql import MAP_FIELDS
from backend.models import (
    JourneyMap,
    Opportunity,
    PainPoint,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.vocabulary.journeys import (
    Channel,
    Device,
    OpportunityStatus,
    PainPointStatus,
    Severity,
)

# A snapshot is JSON: these are its documents (a map, a stage, a touchpoint …).
Document = dict[str, Any]


def _columns(row: Base, *skip: str) -> Document:
    names = row.__table__.columns.keys()
    return {c: getattr(row, c) for c in names if c not in ("workspace_id", *skip)}


def _by_touchpoint(rows: Sequence[Any], *skip: str) -> dict[UUID, list[Document]]:
    grouped: dict[UUID, list[Document]] = {}
    for row in rows:
        grouped.setdefault(row.touchpoint_id, []).append(_columns(row, *skip))
    return grouped


def written_by_postgres(session: AsyncSession) -> bool:
    """Whether Postgres writes this session's snapshots (``snapshot_sql``)."""
    return bool(session.info.get(SQL_SNAPSHOTS))


async def snapshot(session: AsyncSession, journey_map: JourneyMap) -> Document:
    """The whole map as plain JSON: fields, personas, stages with their touchpoints."""
    if written_by_postgres(session):
        await session.flush()
        return await snapshot_sql.read(session, journey_map.workspace_id, journey_map.id)
    return await snapshot_in_python(session, journey_map)


async def snapshot_in_python(session: AsyncSession, journey_map: JourneyMap) -> Document:
    """``snapshot`` read into the ORM and written by Python (SQLite's way)."""
    repo = MapRepository(session)
    stages = await repo.stages_of([journey_map.id])
    touchpoints = await repo.touchpoints_of_maps([journey_map.id])
    touchpoint_ids = [t.id for t in touchpoints]
    pains = await repo.pain_points_of(touchpoint_ids)
    ideas = await repo.opportunities_of(touchpoint_ids)
    emotions = await repo.emotions_of(touchpoint_ids)

    # Each touchpoint's rows, in the order read (grouped once: a map of 96 touchpoints and
    # 400 rows below them took 38,000 comparisons scanning them per touchpoint).
    pains_of = _by_touchpoint(pains, "touchpoint_id")
    ideas_of = _by_touchpoint(ideas, "touchpoint_id")
    emotions_of = _by_touchpoint(emotions, "touchpoint_id", "id")
    by_stage: dict[UUID, list[Document]] = {}
    for touchpoint in touchpoints:
        entry = _columns(touchpoint, "journey_map_id", "stage_id", "position")
        entry["pain_points"] = pains_of.get(touchpoint.id, [])
        entry["opportunities"] = ideas_of.get(touchpoint.id, [])
        entry["emotions"] = sorted(
            emotions_of.get(touchpoint.id, []), key=lambda e: str(e["persona_id"])
        )
        by_stage.setdefault(touchpoint.stage_id, []).append(entry)
    document: Document = {name: getattr(journey_map, name) for name in MAP_FIELDS}
    document["personas"] = (await repo.persona_ids([journey_map.id])).get(journey_map.id, [])
    document["stages"] = [
        {
            **_columns(stage, "journey_map_id", "position"),
            "touchpoints": by_stage.get(stage.id, []),
        }
        for stage in stages
    ]
    return dict(to_stored_json(document))


async def materialize(
    session: AsyncSession, journey_map: JourneyMap, document: Mapping[str, Any], *, fresh_ids: bool
) -> None:
    """Build the map's inside from a snapshot (same ids for a restore, new ones for a copy).

    Personas deleted since the snapshot are left out, with their emotions.
    """
    ws = journey_map.workspace_id
    ids: dict[str, UUID] = {}

    def new_id(old: object) -> UUID:
        key = str(old)
        if key not in ids:
            ids[key] = uuid4() if fresh_ids else UUID(key)
        return ids[key]

    def born(entry: Mapping[str, Any]) -> dict[str, datetime]:
        """A restored row keeps when it was first made; a copy is made now."""
        if fresh_ids or not entry.get("created_at"):
            return {}
        return {"created_at": datetime.fromisoformat(entry["created_at"])}

    existing = await PersonaRepository(session).ids_in(ws)
    personas = [UUID(str(p)) for p in document.get("personas", []) if UUID(str(p)) in existing]
    MapRepository(session).link_personas(journey_map, personas)
    # No ORM relationships tie these tables: insert level by level, parents first.
    stages: list[Stage] = []
    touchpoints: list[Touchpoint] = []
    leaves: list[TouchpointEmotion | PainPoint] = []
    ideas: list[tuple[UUID, Mapping[str, Any]]] = []
    for stage_position, stage in enumerate(document.get("stages", [])):
        stage_row = Stage(
            workspace_id=ws,
            id=new_id(stage["id"]),
            journey_map_id=journey_map.id,
            position=stage_position,
            name=stage["name"],
            description=stage.get("description", ""),
            customer_goals=list(stage.get("customer_goals", [])),
            questions=list(stage.get("questions", [])),
        )
        stages.append(stage_row)
        for position, t in enumerate(stage.get("touchpoints", [])):
            touchpoint_id = new_id(t["id"])
            touchpoints.append(
                Touchpoint(
                    workspace_id=ws,
                    id=touchpoint_id,
                    journey_map_id=journey_map.id,
                    stage_id=stage_row.id,
                    position=position,
                    name=t["name"],
                    description=t.get("description", ""),
                    channel=Channel(t["channel"]) if t.get("channel") else None,
                    device=Device(t["device"]) if t.get("device") else None,
                    customer_actions=list(t.get("customer_actions", [])),
                    customer_goals=list(t.get("customer_goals", [])),
                    questions=list(t.get("questions", [])),
                    emotion=t.get("emotion"),
                    moment_of_truth=bool(t.get("moment_of_truth")),
                    traffic=t.get("traffic"),
                    owning_department=t.get("owning_department", ""),
                    match_keys=dict(t.get("match_keys") or {}),
                )
            )
            leaves += [
                TouchpointEmotion(
                    workspace_id=ws,
                    touchpoint_id=touchpoint_id,
                    persona_id=UUID(str(e["persona_id"])),
                    current=e.get("current"),
                    target=e.get("target"),
                )
                for e in t.get("emotions", [])
                if UUID(str(e["persona_id"])) in personas
            ]
            leaves += [
                PainPoint(
                    workspace_id=ws,
                    id=new_id(pain["id"]),
                    touchpoint_id=touchpoint_id,
                    title=pain["title"],
                    description=pain.get("description", ""),
                    severity=Severity(pain["severity"]),
                    status=PainPointStatus(pain["status"]),
                    **born(pain),
                )
                for pain in t.get("pain_points", [])
            ]
            ideas += [(touchpoint_id, o) for o in t.get("opportunities", [])]
    opportunities = [
        Opportunity(
            workspace_id=ws,
            id=new_id(idea["id"]),
            touchpoint_id=touchpoint_id,
            title=idea["title"],
            description=idea.get("description", ""),
            status=OpportunityStatus(idea["status"]),
            pain_point_id=ids.get(str(idea["pain_point_id"]))
            if idea.get("pain_point_id")
            else None,
            **born(idea),
        )
        for touchpoint_id, idea in ideas
    ]
    await StructureRepository(session).insert_levels([stages, touchpoints, leaves, opportunities])
