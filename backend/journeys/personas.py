"""Personas: who the journeys are for. Create, change and delete them."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import NotFound, ValidationFailed
from backend.journeys.commands import CreatePersona, PersonaFields, UpdatePersona
from backend.journeys.repository import MapRepository, PersonaRepository
from backend.journeys.versioning import new_version
from backend.models import Persona
from backend.patch import UNSET
from backend.validation import (
    MAX_LIST_ITEMS,
    Checks,
    bounded_float,
    bounded_int,
    http_url,
    list_length,
    optional_text,
    required_text,
    text_list,
)
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import Channel, RevisionAction
from backend.vocabulary.roles import WorkspaceRole

# What a persona is made of, as its audit events show it.
FIELDS = (
    "name",
    "summary",
    "quote",
    "occupation",
    "location",
    "age_min",
    "age_max",
    "goals",
    "frustrations",
    "behaviors",
    "preferred_channels",
    "segment_share",
    "avatar_url",
)


def _cleaned(fields: PersonaFields, *, current: Persona | None = None) -> dict[str, object]:
    """The fields given, checked, by name (in declared order)."""
    cleaned: dict[str, object] = {}
    with Checks() as check:
        if fields.name is not UNSET:
            cleaned["name"] = check(required_text, fields.name, field="name", max_length=120)
        if fields.summary is not UNSET:
            cleaned["summary"] = check(
                optional_text, fields.summary, field="summary", max_length=4000
            )
        if fields.quote is not UNSET:
            cleaned["quote"] = check(optional_text, fields.quote, field="quote", max_length=1000)
        if fields.occupation is not UNSET:
            cleaned["occupation"] = check(
                optional_text, fields.occupation, field="occupation", max_length=200
            )
        if fields.location is not UNSET:
            cleaned["location"] = check(
                optional_text, fields.location, field="location", max_length=200
            )
        if fields.age_min is not UNSET:
            cleaned["age_min"] = check(
                bounded_int, fields.age_min, field="age_min", low=0, high=120
            )
        if fields.age_max is not UNSET:
            cleaned["age_max"] = check(
                bounded_int, fields.age_max, field="age_max", low=0, high=120
            )
        for name, values in (
            ("goals", fields.goals),
            ("frustrations", fields.frustrations),
            ("behaviors", fields.behaviors),
        ):
            if values is not UNSET:
                cleaned[name] = check(text_list, values, field=name)
        if fields.preferred_channels is not UNSET:
            cleaned["preferred_channels"] = check(
                _channels, fields.preferred_channels, field="preferred_channels"
            )
        if fields.segment_share is not UNSET:
            cleaned["segment_share"] = check(
                bounded_float, fields.segment_share, field="segment_share", low=0.0, high=1.0
            )
        if fields.avatar_url is not UNSET:
            cleaned["avatar_url"] = check(http_url, fields.avatar_url, field="avatar_url")
        age_min = current.age_min if current else None
        age_max = current.age_max if current else None
        if fields.age_min is not UNSET:
            age_min = fields.age_min
        if fields.age_max is not UNSET:
            age_max = fields.age_max
        if age_min is not None and age_max is not None and age_min > age_max:
            check.fail(ValidationFailed("Must not be above ageMax.", field="age_min"))
    return cleaned


def _channels(values: Sequence[Channel] | None, *, field: str) -> list[str]:
    list_length(values, field=field, max_items=MAX_LIST_ITEMS)
    try:
        return list(dict.fromkeys(Channel(value).value for value in values or []))
    except ValueError:
        raise ValidationFailed(
            f"Channels are {', '.join(c.value for c in Channel)}.", field=field
        ) from None


def _snapshot(persona: Persona) -> dict[str, object]:
    return {name: getattr(persona, name) for name in FIELDS}


async def _editable(
    session: AsyncSession,
    access: Access,
    persona_id: UUID,
    role: WorkspaceRole = WorkspaceRole.EDITOR,
) -> Persona:
    persona = await PersonaRepository(session).get(persona_id)
    if persona is None:
        raise NotFound("Persona", field="id")
    access.require_workspace(persona.workspace_id, role, field="id")
    return persona


async def create_persona(session: AsyncSession, access: Access, command: CreatePersona) -> Persona:
    workspace_id = command.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspace_id")
    if command.fields.name is UNSET:
        raise ValidationFailed("Must not be null.", field="name")
    cleaned = _cleaned(command.fields)
    repo = PersonaRepository(session)
    if await repo.name_taken(workspace_id, str(cleaned["name"]), other_than=None):
        raise ValidationFailed("A persona with this name already exists.", field="name")
    persona = Persona(workspace_id=workspace_id, **cleaned)
    await repo.add(persona)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.PERSONA_CREATE,
        subject_type="Persona",
        subject_id=persona.id,
        changes=changes_of({}, _snapshot(persona)),
    )
    return persona


async def update_persona(session: AsyncSession, access: Access, command: UpdatePersona) -> Persona:
    persona = await _editable(session, access, command.persona_id)
    cleaned = _cleaned(command.fields, current=persona)
    name = cleaned.get("name")
    if isinstance(name, str) and await PersonaRepository(session).name_taken(
        persona.workspace_id, name, other_than=persona.id
    ):
        raise ValidationFailed("A persona with this name already exists.", field="name")
    before = _snapshot(persona)
    for field, value in cleaned.items():
        setattr(persona, field, value)
    await session.flush()
    await audit.record(
        session,
        workspace_id=persona.workspace_id,
        action=AuditAction.PERSONA_UPDATE,
        subject_type="Persona",
        subject_id=persona.id,
        changes=changes_of(before, _snapshot(persona)),
    )
    return persona


async def delete_persona(session: AsyncSession, access: Access, persona_id: UUID) -> UUID:
    """Delete a persona; maps that featured it lose it (and record a new version).

    Workspace ADMIN only: unlike a stage or a touchpoint, a deleted persona cannot be
    restored (the maps' revisions keep its links, not the persona).
    """
    persona = await _editable(session, access, persona_id, WorkspaceRole.ADMIN)
    await _drop_from_maps(session, persona)
    before = _snapshot(persona)
    await PersonaRepository(session).remove(persona)
    await audit.record(
        session,
        workspace_id=persona.workspace_id,
        action=AuditAction.PERSONA_DELETE,
        subject_type="Persona",
        subject_id=persona_id,
        changes=changes_of(before, dict.fromkeys(before)),
    )
    return persona_id


async def _drop_from_maps(session: AsyncSession, persona: Persona) -> None:
    """A deleted persona leaves every map it was on; each such map gets a new version,
    made by the system (the revision names no user)."""
    repo = MapRepository(session)
    map_ids = await repo.unlink_persona_everywhere(persona.id)
    for map_id in sorted(map_ids):
        journey_map = await repo.locked(map_id)
        if journey_map is not None:
            await new_version(session, None, journey_map, RevisionAction.PERSONA_DELETE)
