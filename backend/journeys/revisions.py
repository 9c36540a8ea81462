"""Revisions of a map: compare two, restore one, or copy the map.

All three work from the snapshots ``maps.snapshot`` writes at every version, so
what a revision shows is exactly what a restore brings back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.authz.access import Access
from backend.errors import NotFound
from backend.journeys.maps import (
    MAP_FIELDS,
    _new_version,
    _record_revision,
    lock_for_change,
    snapshot,
)
from backend.models import (
    JourneyMap,
    JourneyMapPersona,
    JourneyMapRevision,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.validation import required_text
from backend.vocabulary.journeys import (
    Channel,
    Device,
    MapStatus,
    OpportunityStatus,
    PainPointStatus,
    Scenario,
    Severity,
)


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "stages/<id>/touchpoints/<id>/name"
    kind: str  # ADDED, REMOVED, CHANGED
    before: Any = None
    after: Any = None


def _items(document: Mapping[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {str(item["id"]): item for item in document.get(key, [])}


def _compare(
    path: str, old: Mapping[str, Any], new: Mapping[str, Any], nested: tuple[str, ...]
) -> Iterator[Change]:
    for field in sorted(set(old) | set(new)):
        if field in nested or field == "id":
            continue
        if old.get(field) != new.get(field):
            yield Change(f"{path}{field}", "CHANGED", old.get(field), new.get(field))
    for key in nested:
        yield from _compare_lists(f"{path}{key}/", old.get(key, []), new.get(key, []))


_CHILDREN = {"stages": ("touchpoints",), "touchpoints": ("pain_points", "opportunities")}


def _compare_lists(path: str, old: list[Any], new: list[Any]) -> Iterator[Change]:
    key = path.rstrip("/").rsplit("/", 1)[-1]
    if (
        key in ("personas",)
        or not (old or new)
        or not isinstance((old or new)[0], dict)
        or "id" not in (old or new)[0]
    ):
        if old != new:
            yield Change(path.rstrip("/"), "CHANGED", old, new)
        return
    before = {str(item["id"]): (index, item) for index, item in enumerate(old)}
    after = {str(item["id"]): (index, item) for index, item in enumerate(new)}
    nested = _CHILDREN.get(key, ())
    for item_id, (_, item) in before.items():
        if item_id not in after:
            yield Change(f"{path}{item_id}", "REMOVED", _label(item), None)
    for item_id, (index, item) in after.items():
        if item_id not in before:
            yield Change(f"{path}{item_id}", "ADDED", None, _label(item))
            continue
        old_index, old_item = before[item_id]
        if old_index != index:
            yield Change(f"{path}{item_id}/position", "CHANGED", old_index, index)
        yield from _compare(f"{path}{item_id}/", old_item, item, nested)


def _label(item: Mapping[str, Any]) -> Any:
    return item.get("name") or item.get("title") or item.get("id")


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Field-level differences between two snapshots, stable in order."""
    return list(_compare("", old, new, ("personas", "stages")))


async def revision(
    session: AsyncSession, map_id: UUID, version: int, *, field: str
) -> JourneyMapRevision:
    found = await session.scalar(
        select(JourneyMapRevision).where(
            JourneyMapRevision.journey_map_id == map_id, JourneyMapRevision.version == version
        )
    )
    if found is None:
        raise NotFound(f"Version {version}", field=field)
    return found


async def _materialize(
    session: AsyncSession, journey_map: JourneyMap, document: Mapping[str, Any], *, fresh_ids: bool
) -> None:
    """Build the map's inside from a snapshot (same ids for a restore, new ones for a copy)."""
    ws = journey_map.workspace_id
    ids: dict[str, UUID] = {}

    def new_id(old: Any) -> UUID:
        key = str(old)
        if key not in ids:
            ids[key] = uuid4() if fresh_ids else UUID(key)
        return ids[key]

    def born(entry: Mapping[str, Any]) -> dict[str, Any]:
        """A restored row keeps when it was first made; a copy is made now."""
        if fresh_ids or not entry.get("created_at"):
            return {}
        return {"created_at": datetime.fromisoformat(entry["created_at"])}

    existing = set(
        (await session.scalars(select(Persona.id).where(Persona.workspace_id == ws))).all()
    )
    personas = [UUID(str(p)) for p in document.get("personas", []) if UUID(str(p)) in existing]
    for position, persona_id in enumerate(personas):
        session.add(
            JourneyMapPersona(
                workspace_id=ws,
                journey_map_id=journey_map.id,
                persona_id=persona_id,
                position=position,
            )
        )
    # No ORM relationships tie these tables: insert level by level, parents first.
    stages: list[Stage] = []
    touchpoints: list[Touchpoint] = []
    leaves: list[Any] = []
    ideas: list[tuple[UUID, dict[str, Any]]] = []
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
    for level in (stages, touchpoints, leaves, opportunities):
        session.add_all(level)
        await session.flush()


async def restore_revision(
    session: AsyncSession,
    access: Access,
    map_id: UUID,
    version: int,
    *,
    expected_version: int | None,
) -> JourneyMap:
    """Bring a map back to an earlier version; the restore is itself a new version."""
    journey_map = await lock_for_change(
        session, access, map_id, expected_version, field="journeyMapId"
    )
    old = await revision(session, map_id, version, field="version")
    document = dict(old.snapshot)
    current = await snapshot(session, journey_map)
    await session.execute(delete(Stage).where(Stage.journey_map_id == map_id))
    await session.execute(
        delete(JourneyMapPersona).where(JourneyMapPersona.journey_map_id == map_id)
    )
    # The rows come back with the same ids: forget the deleted ones (cascades
    # removed touchpoints the session never saw deleted), then reload the map.
    session.expunge_all()
    session.info.pop("locked_chain_heads", None)
    journey_map = await lock_for_change(session, access, map_id, None, field="journeyMapId")
    for field in MAP_FIELDS:
        value: Any = document.get(field)
        if field == "status":
            value = MapStatus(str(value))
        elif field == "scenario":
            value = Scenario(str(value))
        setattr(journey_map, field, value)
    await _materialize(session, journey_map, document, fresh_ids=False)
    await _new_version(session, access, journey_map, f"journey_map.restore:{version}")
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action="journey_map.restore",
        subject_type="JourneyMap",
        subject_id=map_id,
        changes={
            "restored_version": {"before": None, "after": version},
            "version": {"before": journey_map.version - 1, "after": journey_map.version},
            "differences": {"before": None, "after": len(diff(current, document))},
        },
    )
    return journey_map


async def duplicate_journey_map(
    session: AsyncSession,
    access: Access,
    map_id: UUID,
    *,
    title: str | None,
    scenario: Scenario | None,
) -> JourneyMap:
    """A deep copy with new ids (for example the current state as a future state)."""
    source = await lock_for_change(session, access, map_id, None, field="id")
    document = await snapshot(session, source)
    copy = JourneyMap(
        workspace_id=source.workspace_id,
        title=required_text(title, field="title")
        if title is not None
        else f"{source.title} (copy)"[:200],
        description=source.description,
        objectives=list(source.objectives),
        status=MapStatus.DRAFT,
        scenario=scenario or source.scenario,
        departments=list(source.departments),
        version=1,
        created_by=access.user_id,
        updated_by=access.user_id,
    )
    session.add(copy)
    await session.flush()
    await _materialize(session, copy, document, fresh_ids=True)
    await _record_revision(session, access, copy, f"journey_map.duplicate:{map_id}")
    await audit.record(
        session,
        workspace_id=copy.workspace_id,
        action="journey_map.duplicate",
        subject_type="JourneyMap",
        subject_id=copy.id,
        changes={
            "source": {"before": None, "after": str(map_id)},
            "title": {"before": None, "after": copy.title},
        },
    )
    return copy
