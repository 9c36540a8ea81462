"""Journey maps themselves: create, change, delete, restore and purge them.

Changes inside a map (stages, touchpoints …) live in their own modules; all of them
version the map through backend/journeys/versioning.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.journeys.commands import CreateJourneyMap, MapFields, UpdateJourneyMap
from backend.journeys.repository import MapRepository, PersonaRepository, StructureRepository
from backend.journeys.versioning import check_version, first_version, lock_for_change, new_version
from backend.models import JourneyMap, Stage
from backend.outbox import emit as outbox
from backend.patch import UNSET
from backend.validation import Checks, optional_text, required_text, text_list
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import (
    FIVE_STAGES,
    MapStatus,
    MapTemplate,
    RevisionAction,
    Scenario,
)
from backend.vocabulary.roles import WorkspaceRole

RESTORE_WINDOW = timedelta(days=30)


def _cleaned(fields: MapFields) -> dict[str, object]:
    """The fields given, checked, by name (in declared order)."""
    cleaned: dict[str, object] = {}
    with Checks() as check:
        if fields.title is not UNSET:
            cleaned["title"] = check(required_text, fields.title, field="title", max_length=200)
        if fields.description is not UNSET:
            cleaned["description"] = check(optional_text, fields.description, field="description")
        if fields.objectives is not UNSET:
            cleaned["objectives"] = check(text_list, fields.objectives, field="objectives")
        if fields.status is not UNSET:
            cleaned["status"] = MapStatus(fields.status)
        if fields.scenario is not UNSET:
            cleaned["scenario"] = Scenario(fields.scenario)
        if fields.departments is not UNSET:
            cleaned["departments"] = check(text_list, fields.departments, field="departments")
    return cleaned


async def _personas_in(
    session: AsyncSession, workspace_id: UUID, persona_ids: Sequence[UUID]
) -> list[UUID]:
    wanted = list(dict.fromkeys(persona_ids))
    found = await PersonaRepository(session).ids_in(workspace_id, wanted)
    for index, persona_id in enumerate(wanted):
        if persona_id not in found:
            raise NotFound("Persona", field=f"persona_ids[{index}]")
    return wanted


async def create_journey_map(
    session: AsyncSession, access: Access, command: CreateJourneyMap
) -> JourneyMap:
    workspace_id = command.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspace_id")
    if command.fields.title is UNSET:
        raise ValidationFailed("Must not be null.", field="title")
    cleaned = _cleaned(command.fields)
    personas = await _personas_in(session, workspace_id, command.persona_ids)
    journey_map = JourneyMap(
        workspace_id=workspace_id,
        version=1,
        created_by=access.user_id,
        updated_by=access.user_id,
        **cleaned,
    )
    repo = MapRepository(session)
    repo.add(journey_map)
    await session.flush()
    repo.link_personas(journey_map, personas)
    if command.template is MapTemplate.FIVE_STAGE:
        StructureRepository(session).add_all(
            Stage(
                workspace_id=workspace_id,
                journey_map_id=journey_map.id,
                position=position,
                name=name,
            )
            for position, name in enumerate(FIVE_STAGES)
        )
    await first_version(session, access, journey_map, RevisionAction.JOURNEY_MAP_CREATE)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.JOURNEY_MAP_CREATE,
        subject_type="JourneyMap",
        subject_id=journey_map.id,
        changes=changes_of({}, {**cleaned, "template": command.template, "personas": personas}),
    )
    return journey_map


async def update_journey_map(
    session: AsyncSession, access: Access, command: UpdateJourneyMap
) -> JourneyMap:
    map_id = command.map_id
    journey_map = await lock_for_change(session, access, map_id, command.expected_version)
    cleaned = _cleaned(command.fields)
    repo = MapRepository(session)
    before: dict[str, object] = {name: getattr(journey_map, name) for name in cleaned}
    after: dict[str, object] = dict(cleaned)
    for name, value in cleaned.items():
        setattr(journey_map, name, value)
    if command.persona_ids is not UNSET:
        personas = await _personas_in(session, journey_map.workspace_id, command.persona_ids)
        before["personas"] = (await repo.persona_ids([map_id])).get(map_id, [])
        after["personas"] = personas
        await repo.unlink_personas(map_id)
        repo.link_personas(journey_map, personas)
    changes = changes_of(before, after)
    if changes:
        await new_version(session, access, journey_map, RevisionAction.JOURNEY_MAP_UPDATE)
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action=AuditAction.JOURNEY_MAP_UPDATE,
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
        action=AuditAction.JOURNEY_MAP_DELETE,
        subject_type="JourneyMap",
        subject_id=map_id,
        changes=changes_of({"deleted_at": None}, {"deleted_at": journey_map.deleted_at}),
    )
    await _announce(session, journey_map, "journey_map.delete")
    return journey_map


async def restore_deleted_journey_map(
    session: AsyncSession, access: Access, map_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    """Undo a delete (workspace ADMIN), while the map is still kept."""
    journey_map = await MapRepository(session).locked_deleted(map_id)
    if journey_map is None or journey_map.deleted_at is None:
        raise NotFound("Deleted journey map", field="id")
    access.require_workspace(journey_map.workspace_id, WorkspaceRole.ADMIN, field="id")
    if journey_map.deleted_at < utcnow() - RESTORE_WINDOW:
        raise NotFound("Deleted journey map", field="id")  # past its window: as good as purged
    check_version(journey_map, expected_version)
    deleted_at = journey_map.deleted_at
    journey_map.deleted_at = None
    journey_map.deleted_by = None
    await session.flush()
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action=AuditAction.JOURNEY_MAP_UNDELETE,
        subject_type="JourneyMap",
        subject_id=map_id,
        changes=changes_of({"deleted_at": deleted_at}, {"deleted_at": None}),
    )
    await _announce(session, journey_map, "journey_map.undelete")
    return journey_map


async def _announce(session: AsyncSession, journey_map: JourneyMap, action: str) -> None:
    """A map leaving or coming back changes what its workspace's health is made of:
    the same event as a change inside it (the version stays; no revision is made)."""
    await outbox.emit(
        session,
        journey_map.workspace_id,
        "journey_map.changed",
        {"journey_map_id": journey_map.id, "version": journey_map.version, "action": action},
    )


async def deleted_maps_page(
    session: AsyncSession, workspace_id: UUID, page: PageRequest
) -> Page[JourneyMap]:
    """The maps of the workspace that can still be restored, last deleted first."""
    return await MapRepository(session).deleted_page(
        workspace_id, since=utcnow() - RESTORE_WINDOW, page=page
    )


async def purge_deleted_maps(session: AsyncSession, workspace_id: UUID) -> int:
    """Remove for good the maps deleted longer ago than the restore window (system job)."""
    repo = MapRepository(session)
    expired = await repo.deleted_before(workspace_id, utcnow() - RESTORE_WINDOW)
    for journey_map in expired:
        await audit.record(
            session,
            workspace_id=workspace_id,
            action=AuditAction.JOURNEY_MAP_PURGE,
            subject_type="JourneyMap",
            subject_id=journey_map.id,
            changes=changes_of({"title": journey_map.title}, {"title": None}),
        )
        await repo.remove(journey_map)
    await session.flush()
    return len(expired)
