"""Journey maps: create, change and version them, guarded by ``expectedVersion``.

Every change to a map, or to anything inside it, goes through ``_change``: it
locks the map row, refuses a stale ``expectedVersion`` with CONFLICT, and after
the change bumps ``version`` and stores a full snapshot as a revision. Writers of
one map therefore queue, and N concurrent writers that all read version v get
one success and N-1 conflicts, never a lost update.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of, to_json_value
from backend.authz.access import Access
from backend.db.pagination import Page, paginate
from backend.db.types import utcnow
from backend.errors import Conflict, NotFound
from backend.models import (
    HealthGeneration,
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
from backend.outbox import emit as outbox
from backend.validation import optional_text, required_text, search_text, text_list
from backend.vocabulary.journeys import FIVE_STAGES, MapOrder, MapStatus, MapTemplate, Scenario
from backend.vocabulary.roles import WorkspaceRole

MAP_FIELDS = ("title", "description", "objectives", "status", "scenario", "departments")


class StaleVersion(Conflict):
    def __init__(self, current: int, expected: int) -> None:
        super().__init__(
            f"The map is at version {current}, not {expected}: reload and apply your change again.",
            field="expectedVersion",
        )
        self.current_version = current


def clean_map_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name == "title":
            cleaned[name] = required_text(value, field="title", max_length=200)
        elif name == "description":
            cleaned[name] = optional_text(value, field="description")
        elif name in ("objectives", "departments"):
            cleaned[name] = text_list(value, field=name)
        elif name == "status":
            cleaned[name] = MapStatus(value)
        elif name == "scenario":
            cleaned[name] = Scenario(value)
        else:
            raise ValueError(f"not a map field: {name}")
    return cleaned


@dataclass(frozen=True)
class MapStamp:
    """Together, version and health generation change whenever anything a map read
    shows changes: the map or anything inside it (version), or its scores (a pass)."""

    workspace_id: UUID
    version: int
    health_generation: int


async def read_stamp(
    connection: AsyncConnection, map_id: UUID, workspace_ids: Container[UUID]
) -> MapStamp | None:
    """The stamp of a live map in one of ``workspace_ids``, else None: one statement.

    On a Core connection no ORM criteria apply, so the workspace is checked here
    (and on Postgres by row-level security under the connection's binding).
    """
    row = (await connection.execute(_STAMP, {"map_id": map_id})).one_or_none()
    if row is None or row.workspace_id not in workspace_ids:
        return None
    return MapStamp(row.workspace_id, row.version, row.generation or 0)


# The generation as a correlated subquery: one index probe, so row-level security
# checks one row. As a join, Postgres scanned the small table and ran the policy on
# every row, parsing the bound list each time: 15 ms with 200 workspaces bound.
_GENERATION = (
    select(HealthGeneration.generation)
    .where(
        HealthGeneration.workspace_id == JourneyMap.workspace_id,
        HealthGeneration.id == JourneyMap.workspace_id,
    )
    .correlate(JourneyMap)
    .scalar_subquery()
)
_STAMP = select(JourneyMap.workspace_id, JourneyMap.version, _GENERATION.label("generation")).where(
    JourneyMap.id == bindparam("map_id"), JourneyMap.deleted_at.is_(None)
)


class MapRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _live(self) -> Select[JourneyMap]:
        return select(JourneyMap).where(JourneyMap.deleted_at.is_(None))

    async def by_ids(self, ids: Iterable[UUID]) -> Sequence[JourneyMap]:
        return (await self.session.scalars(self._live().where(JourneyMap.id.in_(ids)))).all()

    async def locked(self, map_id: UUID) -> JourneyMap | None:
        return await self.session.scalar(
            self._live()
            .where(JourneyMap.id == map_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def page(
        self,
        workspace_id: UUID,
        *,
        status: MapStatus | None,
        scenario: Scenario | None,
        persona_id: UUID | None,
        search: str | None,
        first: int | None,
        after: str | None,
        order: MapOrder = MapOrder.TITLE,
    ) -> Page[JourneyMap]:
        statement = self._live().where(JourneyMap.workspace_id == workspace_id)
        if status is not None:
            statement = statement.where(JourneyMap.status == status)
        if scenario is not None:
            statement = statement.where(JourneyMap.scenario == scenario)
        if persona_id is not None:
            statement = statement.where(
                JourneyMap.id.in_(
                    select(JourneyMapPersona.journey_map_id).where(
                        JourneyMapPersona.persona_id == persona_id
                    )
                )
            )
        pattern = search_text(search)
        if pattern is not None:
            statement = statement.where(JourneyMap.title.icontains(pattern, autoescape=True))
        keys = [JourneyMap.title, JourneyMap.id]
        if order is MapOrder.UPDATED_AT:
            keys = [JourneyMap.updated_at, JourneyMap.id]  # most recently changed first
        return await paginate(
            self.session,
            statement,
            keys=keys,
            first=first,
            after=after,
            descending=order is MapOrder.UPDATED_AT,
        )

    async def persona_ids(self, map_ids: Iterable[UUID]) -> dict[UUID, list[UUID]]:
        rows = (
            await self.session.execute(
                select(JourneyMapPersona.journey_map_id, JourneyMapPersona.persona_id)
                .where(JourneyMapPersona.journey_map_id.in_(map_ids))
                .order_by(JourneyMapPersona.position)
            )
        ).all()
        found: dict[UUID, list[UUID]] = {}
        for map_id, persona_id in rows:
            found.setdefault(map_id, []).append(persona_id)
        return found

    async def stages_of(self, map_ids: Iterable[UUID]) -> Sequence[Stage]:
        return (
            await self.session.scalars(
                select(Stage)
                .where(Stage.journey_map_id.in_(map_ids))
                .order_by(Stage.journey_map_id, Stage.position)
            )
        ).all()

    async def touchpoints_of_maps(self, map_ids: Iterable[UUID]) -> Sequence[Touchpoint]:
        return (
            await self.session.scalars(
                select(Touchpoint)
                .where(Touchpoint.journey_map_id.in_(map_ids))
                .order_by(Touchpoint.stage_id, Touchpoint.position)
            )
        ).all()

    def _on_live_map(self, model: type[Stage] | type[Touchpoint]) -> Select[Any]:
        """``model``'s rows whose map is not deleted: a deleted map takes its content along."""
        return select(model).join(
            JourneyMap,
            and_(
                JourneyMap.workspace_id == model.workspace_id,
                JourneyMap.id == model.journey_map_id,
                JourneyMap.deleted_at.is_(None),
            ),
        )

    async def stages_by_ids(self, ids: Iterable[UUID]) -> Sequence[Stage]:
        statement = self._on_live_map(Stage).where(Stage.id.in_(ids))
        return (await self.session.scalars(statement)).all()

    async def touchpoints_by_ids(self, ids: Iterable[UUID]) -> Sequence[Touchpoint]:
        statement = self._on_live_map(Touchpoint).where(Touchpoint.id.in_(ids))
        return (await self.session.scalars(statement)).all()

    async def pain_points_of(self, touchpoint_ids: Iterable[UUID]) -> Sequence[PainPoint]:
        return (
            await self.session.scalars(
                select(PainPoint)
                .where(PainPoint.touchpoint_id.in_(touchpoint_ids))
                .order_by(PainPoint.created_at, PainPoint.id)
            )
        ).all()

    async def opportunities_of(self, touchpoint_ids: Iterable[UUID]) -> Sequence[Opportunity]:
        return (
            await self.session.scalars(
                select(Opportunity)
                .where(Opportunity.touchpoint_id.in_(touchpoint_ids))
                .order_by(Opportunity.created_at, Opportunity.id)
            )
        ).all()

    async def emotions_of(self, touchpoint_ids: Iterable[UUID]) -> Sequence[TouchpointEmotion]:
        return (
            await self.session.scalars(
                select(TouchpointEmotion).where(TouchpointEmotion.touchpoint_id.in_(touchpoint_ids))
            )
        ).all()

    async def revisions_page(
        self, map_id: UUID, first: int | None, after: str | None
    ) -> Page[JourneyMapRevision]:
        return await paginate(
            self.session,
            select(JourneyMapRevision).where(JourneyMapRevision.journey_map_id == map_id),
            keys=[JourneyMapRevision.version],
            first=first,
            after=after,
            descending=True,
        )


async def snapshot(session: AsyncSession, journey_map: JourneyMap) -> dict[str, Any]:
    """The whole map as plain JSON: fields, personas, stages with their touchpoints."""
    repo = MapRepository(session)
    stages = await repo.stages_of([journey_map.id])
    touchpoints = await repo.touchpoints_of_maps([journey_map.id])
    touchpoint_ids = [t.id for t in touchpoints]
    pains = (
        await session.scalars(
            select(PainPoint)
            .where(PainPoint.touchpoint_id.in_(touchpoint_ids))
            .order_by(PainPoint.created_at, PainPoint.id)
        )
    ).all()
    ideas = (
        await session.scalars(
            select(Opportunity)
            .where(Opportunity.touchpoint_id.in_(touchpoint_ids))
            .order_by(Opportunity.created_at, Opportunity.id)
        )
    ).all()
    emotions = (
        await session.scalars(
            select(TouchpointEmotion).where(TouchpointEmotion.touchpoint_id.in_(touchpoint_ids))
        )
    ).all()

    def row(obj: Any, *skip: str) -> dict[str, Any]:
        columns = obj.__table__.columns.keys()
        return {c: getattr(obj, c) for c in columns if c not in ("workspace_id", *skip)}

    by_stage: dict[UUID, list[dict[str, Any]]] = {}
    for touchpoint in touchpoints:
        entry = row(touchpoint, "journey_map_id", "stage_id", "position")
        entry["pain_points"] = [
            row(p, "touchpoint_id") for p in pains if p.touchpoint_id == touchpoint.id
        ]
        entry["opportunities"] = [
            row(o, "touchpoint_id") for o in ideas if o.touchpoint_id == touchpoint.id
        ]
        entry["emotions"] = sorted(
            (row(e, "touchpoint_id", "id") for e in emotions if e.touchpoint_id == touchpoint.id),
            key=lambda e: str(e["persona_id"]),
        )
        by_stage.setdefault(touchpoint.stage_id, []).append(entry)
    document = {name: getattr(journey_map, name) for name in MAP_FIELDS}
    document["personas"] = (await repo.persona_ids([journey_map.id])).get(journey_map.id, [])
    document["stages"] = [
        {**row(stage, "journey_map_id", "position"), "touchpoints": by_stage.get(stage.id, [])}
        for stage in stages
    ]
    return dict(to_json_value(document))


async def _new_version(
    session: AsyncSession, access: Access, journey_map: JourneyMap, action: str
) -> None:
    journey_map.version += 1
    await _record_revision(session, access, journey_map, action)


async def _record_revision(
    session: AsyncSession, access: Access | None, journey_map: JourneyMap, action: str
) -> None:
    journey_map.updated_at = utcnow()
    journey_map.updated_by = access.user_id if access else None
    await session.flush()
    session.add(
        JourneyMapRevision(
            workspace_id=journey_map.workspace_id,
            journey_map_id=journey_map.id,
            version=journey_map.version,
            action=action,
            snapshot=await snapshot(session, journey_map),
            created_at=utcnow(),
            created_by=access.user_id if access else None,
        )
    )
    await outbox.emit(
        session,
        journey_map.workspace_id,
        "journey_map.changed",
        {"journey_map_id": journey_map.id, "version": journey_map.version, "action": action},
    )


async def lock_for_change(
    session: AsyncSession,
    access: Access,
    map_id: UUID,
    expected_version: int | None,
    *,
    field: str = "id",
) -> JourneyMap:
    """The live map, locked, checked against the caller's role and expected version."""
    journey_map = await MapRepository(session).locked(map_id)
    if journey_map is None:
        raise NotFound("Journey map", field=field)
    access.require_workspace(journey_map.workspace_id, WorkspaceRole.EDITOR, field=field)
    if expected_version is not None and journey_map.version != expected_version:
        raise StaleVersion(journey_map.version, expected_version)
    return journey_map


async def _personas_in(
    session: AsyncSession, workspace_id: UUID, persona_ids: Sequence[UUID]
) -> list[UUID]:
    wanted = list(dict.fromkeys(persona_ids))
    found = set(
        (
            await session.scalars(
                select(Persona.id).where(
                    Persona.workspace_id == workspace_id, Persona.id.in_(wanted)
                )
            )
        ).all()
    )
    for index, persona_id in enumerate(wanted):
        if persona_id not in found:
            raise NotFound("Persona", field=f"personaIds[{index}]")
    return wanted


async def create_journey_map(
    session: AsyncSession,
    access: Access,
    workspace_id: UUID,
    values: Mapping[str, Any],
    *,
    template: MapTemplate,
    persona_ids: Sequence[UUID],
) -> JourneyMap:
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspaceId")
    cleaned = clean_map_fields(values)
    personas = await _personas_in(session, workspace_id, persona_ids)
    journey_map = JourneyMap(
        workspace_id=workspace_id,
        version=1,
        created_by=access.user_id,
        updated_by=access.user_id,
        **cleaned,
    )
    session.add(journey_map)
    await session.flush()
    for position, persona_id in enumerate(personas):
        session.add(
            JourneyMapPersona(
                workspace_id=workspace_id,
                journey_map_id=journey_map.id,
                persona_id=persona_id,
                position=position,
            )
        )
    if template is MapTemplate.FIVE_STAGE:
        for position, name in enumerate(FIVE_STAGES):
            session.add(
                Stage(
                    workspace_id=workspace_id,
                    journey_map_id=journey_map.id,
                    position=position,
                    name=name,
                )
            )
    await _record_revision(session, access, journey_map, "journey_map.create")
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="journey_map.create",
        subject_type="JourneyMap",
        subject_id=journey_map.id,
        changes=changes_of({}, {**cleaned, "template": template, "personas": personas}),
    )
    return journey_map


async def update_journey_map(
    session: AsyncSession,
    access: Access,
    map_id: UUID,
    values: Mapping[str, Any],
    *,
    persona_ids: Sequence[UUID] | None,
    expected_version: int | None,
) -> JourneyMap:
    journey_map = await lock_for_change(session, access, map_id, expected_version)
    cleaned = clean_map_fields(values)
    repo = MapRepository(session)
    before: dict[str, Any] = {name: getattr(journey_map, name) for name in cleaned}
    after: dict[str, Any] = dict(cleaned)
    for name, value in cleaned.items():
        setattr(journey_map, name, value)
    if persona_ids is not None:
        personas = await _personas_in(session, journey_map.workspace_id, persona_ids)
        before["personas"] = (await repo.persona_ids([map_id])).get(map_id, [])
        after["personas"] = personas
        for link in (
            await session.scalars(
                select(JourneyMapPersona).where(JourneyMapPersona.journey_map_id == map_id)
            )
        ).all():
            await session.delete(link)
        await session.flush()
        for position, persona_id in enumerate(personas):
            session.add(
                JourneyMapPersona(
                    workspace_id=journey_map.workspace_id,
                    journey_map_id=map_id,
                    persona_id=persona_id,
                    position=position,
                )
            )
    changes = changes_of(before, after)
    if changes:
        await _new_version(session, access, journey_map, "journey_map.update")
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action="journey_map.update",
        subject_type="JourneyMap",
        subject_id=map_id,
        changes=changes,
    )
    return journey_map


async def delete_journey_map(
    session: AsyncSession, access: Access, map_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    """Soft delete: gone from every list, restorable by a workspace admin until purged."""
    journey_map = await lock_for_change(session, access, map_id, expected_version)
    access.require_workspace(journey_map.workspace_id, WorkspaceRole.ADMIN, field="id")
    journey_map.deleted_at = utcnow()
    journey_map.deleted_by = access.user_id
    await session.flush()
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action="journey_map.delete",
        subject_type="JourneyMap",
        subject_id=map_id,
        changes=changes_of({"deleted_at": None}, {"deleted_at": journey_map.deleted_at}),
    )
    return journey_map


async def drop_persona_from_maps(session: AsyncSession, persona: Persona) -> None:
    """A deleted persona leaves every map it was on; each such map gets a new version."""
    links = (
        await session.scalars(
            select(JourneyMapPersona).where(JourneyMapPersona.persona_id == persona.id)
        )
    ).all()
    map_ids = {link.journey_map_id for link in links}
    for link in links:
        await session.delete(link)
    for emotion in (
        await session.scalars(
            select(TouchpointEmotion).where(TouchpointEmotion.persona_id == persona.id)
        )
    ).all():
        await session.delete(emotion)
    await session.flush()
    for map_id in sorted(map_ids):
        journey_map = await MapRepository(session).locked(map_id)
        if journey_map is not None:
            journey_map.version += 1
            await _record_revision(session, None, journey_map, "persona.delete")


RESTORE_WINDOW = timedelta(days=30)


async def restore_deleted_journey_map(
    session: AsyncSession, access: Access, map_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    """Undo a delete (workspace ADMIN), while the map is still kept."""
    journey_map = await session.scalar(
        select(JourneyMap)
        .where(JourneyMap.id == map_id, JourneyMap.deleted_at.is_not(None))
        .with_for_update()
    )
    if journey_map is None or journey_map.deleted_at is None:
        raise NotFound("Deleted journey map", field="id")
    access.require_workspace(journey_map.workspace_id, WorkspaceRole.ADMIN, field="id")
    if journey_map.deleted_at < utcnow() - RESTORE_WINDOW:
        raise NotFound("Deleted journey map", field="id")  # past its window: as good as purged
    if expected_version is not None and journey_map.version != expected_version:
        raise StaleVersion(journey_map.version, expected_version)
    deleted_at = journey_map.deleted_at
    journey_map.deleted_at = None
    journey_map.deleted_by = None
    await session.flush()
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action="journey_map.undelete",
        subject_type="JourneyMap",
        subject_id=map_id,
        changes=changes_of({"deleted_at": deleted_at}, {"deleted_at": None}),
    )
    return journey_map


async def deleted_maps_page(
    session: AsyncSession, workspace_id: UUID, first: int | None, after: str | None
) -> Page[JourneyMap]:
    return await paginate(
        session,
        select(JourneyMap).where(
            JourneyMap.workspace_id == workspace_id,
            JourneyMap.deleted_at.is_not(None),
            JourneyMap.deleted_at >= utcnow() - RESTORE_WINDOW,
        ),
        keys=[JourneyMap.deleted_at, JourneyMap.id],
        first=first,
        after=after,
        descending=True,
    )


async def purge_deleted_maps(session: AsyncSession, workspace_id: UUID) -> int:
    """Remove for good the maps deleted longer ago than the restore window (system job)."""
    expired = (
        await session.scalars(
            select(JourneyMap).where(
                JourneyMap.workspace_id == workspace_id,
                JourneyMap.deleted_at.is_not(None),
                JourneyMap.deleted_at < utcnow() - RESTORE_WINDOW,
            )
        )
    ).all()
    for journey_map in expired:
        await audit.record(
            session,
            workspace_id=workspace_id,
            action="journey_map.purge",
            subject_type="JourneyMap",
            subject_id=journey_map.id,
            changes=changes_of({"title": journey_map.title}, {"title": None}),
        )
        await session.delete(journey_map)
    await session.flush()
    return len(expired)
