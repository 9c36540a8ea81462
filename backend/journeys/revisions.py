"""Revisions of a map: compare two, restore one, or copy the map.

All three work from the snapshots (backend/journeys/snapshots.py) written at every
version, so what a revision shows is exactly what a restore brings back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.authz.access import Access
from backend.errors import NotFound
from backend.journeys.repository import MapRepository
from backend.journeys.snapshot_sql import MAP_FIELDS
from backend.journeys.snapshots import materialize, snapshot
from backend.journeys.versioning import first_version, lock_for_change, new_version
from backend.models import JourneyMap, JourneyMapRevision
from backend.validation import required_text
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import ChangeKind, MapStatus, RevisionAction, Scenario


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "stages/<id>/touchpoints/<id>/name"
    kind: ChangeKind
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
            yield Change(f"{path}{field}", ChangeKind.CHANGED, old.get(field), new.get(field))
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
            yield Change(path.rstrip("/"), ChangeKind.CHANGED, old, new)
        return
    before = {str(item["id"]): (index, item) for index, item in enumerate(old)}
    after = {str(item["id"]): (index, item) for index, item in enumerate(new)}
    nested = _CHILDREN.get(key, ())
    for item_id, (_, item) in before.items():
        if item_id not in after:
            yield Change(f"{path}{item_id}", ChangeKind.REMOVED, _label(item), None)
    for item_id, (index, item) in after.items():
        if item_id not in before:
            yield Change(f"{path}{item_id}", ChangeKind.ADDED, None, _label(item))
            continue
        old_index, old_item = before[item_id]
        if old_index != index:
            yield Change(f"{path}{item_id}/position", ChangeKind.CHANGED, old_index, index)
        yield from _compare(f"{path}{item_id}/", old_item, item, nested)


def _label(item: Mapping[str, Any]) -> Any:
    return item.get("name") or item.get("title") or item.get("id")


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Field-level differences between two snapshots, stable in order."""
    return list(_compare("", old, new, ("personas", "stages")))


async def revision(
    session: AsyncSession, map_id: UUID, version: int, *, field: str
) -> JourneyMapRevision:
    found = await MapRepository(session).revision(map_id, version)
    if found is None:
        raise NotFound(f"Version {version}", field=field)
    return found


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
        session, access, map_id, expected_version, field="journey_map_id"
    )
    old = await revision(session, map_id, version, field="version")
    document = dict(old.snapshot)
    current = await snapshot(session, journey_map)
    await MapRepository(session).clear_content(map_id)
    for field in MAP_FIELDS:
        value: object = document.get(field)
        if field == "status":
            value = MapStatus(str(value))
        elif field == "scenario":
            value = Scenario(str(value))
        setattr(journey_map, field, value)
    await materialize(session, journey_map, document, fresh_ids=False)
    await new_version(
        session, access, journey_map, RevisionAction.JOURNEY_MAP_RESTORE, detail=version
    )
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action=AuditAction.JOURNEY_MAP_RESTORE,
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
    MapRepository(session).add(copy)
    await session.flush()
    await materialize(session, copy, document, fresh_ids=True)
    await first_version(session, access, copy, RevisionAction.JOURNEY_MAP_DUPLICATE, detail=map_id)
    await audit.record(
        session,
        workspace_id=copy.workspace_id,
        action=AuditAction.JOURNEY_MAP_DUPLICATE,
        subject_type="JourneyMap",
        subject_id=copy.id,
        changes={
            "source": {"before": None, "after": str(map_id)},
            "title": {"before": None, "after": copy.title},
        },
    )
    return copy
