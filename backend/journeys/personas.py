"""Personas: who the journeys are for. Service and queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, paginate
from backend.errors import NotFound, ValidationFailed
from backend.models import Persona
from backend.validation import (
    MAX_LIST_ITEMS,
    bounded_float,
    bounded_int,
    http_url,
    list_length,
    optional_text,
    required_text,
    search_text,
    text_list,
)
from backend.vocabulary.journeys import Channel
from backend.vocabulary.roles import WorkspaceRole

# What a persona is made of, and how each field is cleaned.
_TEXT = {"summary": 4000, "quote": 1000, "occupation": 200, "location": 200}
_LISTS = ("goals", "frustrations", "behaviors")
FIELDS = (
    "name",
    *_TEXT,
    "age_min",
    "age_max",
    *_LISTS,
    "preferred_channels",
    "segment_share",
    "avatar_url",
)


def clean(values: Mapping[str, Any], *, current: Persona | None = None) -> dict[str, Any]:
    """Validated values for the given fields; errors name the input field (camelCase)."""
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        field = _camel(name)
        if name == "name":
            cleaned[name] = required_text(value, field=field, max_length=120)
        elif name in _TEXT:
            cleaned[name] = optional_text(value, field=field, max_length=_TEXT[name])
        elif name in _LISTS:
            cleaned[name] = text_list(value, field=field)
        elif name == "preferred_channels":
            cleaned[name] = _channels(value, field=field)
        elif name in ("age_min", "age_max"):
            cleaned[name] = bounded_int(value, field=field, low=0, high=120)
        elif name == "segment_share":
            cleaned[name] = bounded_float(value, field=field, low=0.0, high=1.0)
        elif name == "avatar_url":
            cleaned[name] = http_url(value, field=field)
        else:
            raise ValueError(f"not a persona field: {name}")
    age_min = cleaned.get("age_min", current.age_min if current else None)
    age_max = cleaned.get("age_max", current.age_max if current else None)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise ValidationFailed("Must not be above ageMax.", field="ageMin")
    return cleaned


def _channels(values: list[str] | None, *, field: str) -> list[str]:
    list_length(values, field=field, max_items=MAX_LIST_ITEMS)
    try:
        return list(dict.fromkeys(Channel(value).value for value in values or []))
    except ValueError:
        raise ValidationFailed(
            f"Channels are {', '.join(c.value for c in Channel)}.", field=field
        ) from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snapshot(persona: Persona) -> dict[str, Any]:
    return {name: getattr(persona, name) for name in FIELDS}


class PersonaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_ids(self, ids: Iterable[UUID]) -> Sequence[Persona]:
        return (await self.session.scalars(select(Persona).where(Persona.id.in_(ids)))).all()

    async def get(self, persona_id: UUID) -> Persona | None:
        return await self.session.scalar(select(Persona).where(Persona.id == persona_id))

    async def name_taken(self, workspace_id: UUID, name: str, *, other_than: UUID | None) -> bool:
        statement = select(Persona.id).where(
            Persona.workspace_id == workspace_id, Persona.name == name
        )
        if other_than is not None:
            statement = statement.where(Persona.id != other_than)
        return await self.session.scalar(statement) is not None

    async def page(
        self, workspace_id: UUID, search: str | None, first: int | None, after: str | None
    ) -> Page[Persona]:
        statement = select(Persona).where(Persona.workspace_id == workspace_id)
        pattern = search_text(search)
        if pattern is not None:
            statement = statement.where(Persona.name.icontains(pattern, autoescape=True))
        return await paginate(
            self.session, statement, keys=[Persona.name, Persona.id], first=first, after=after
        )


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


async def create_persona(
    session: AsyncSession, access: Access, workspace_id: UUID, values: Mapping[str, Any]
) -> Persona:
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspaceId")
    cleaned = clean(values)
    if await PersonaRepository(session).name_taken(workspace_id, cleaned["name"], other_than=None):
        raise ValidationFailed("A persona with this name already exists.", field="name")
    persona = Persona(workspace_id=workspace_id, **cleaned)
    session.add(persona)
    await session.flush()
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="persona.create",
        subject_type="Persona",
        subject_id=persona.id,
        changes=changes_of({}, _snapshot(persona)),
    )
    return persona


async def update_persona(
    session: AsyncSession, access: Access, persona_id: UUID, values: Mapping[str, Any]
) -> Persona:
    persona = await _editable(session, access, persona_id)
    cleaned = clean(values, current=persona)
    if "name" in cleaned and await PersonaRepository(session).name_taken(
        persona.workspace_id, cleaned["name"], other_than=persona.id
    ):
        raise ValidationFailed("A persona with this name already exists.", field="name")
    before = _snapshot(persona)
    for name, value in cleaned.items():
        setattr(persona, name, value)
    await session.flush()
    await audit.record(
        session,
        workspace_id=persona.workspace_id,
        action="persona.update",
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
    from backend.journeys.maps import drop_persona_from_maps

    await drop_persona_from_maps(session, persona)
    before = _snapshot(persona)
    await session.delete(persona)
    await session.flush()
    await audit.record(
        session,
        workspace_id=persona.workspace_id,
        action="persona.delete",
        subject_type="Persona",
        subject_id=persona_id,
        changes=changes_of(before, dict.fromkeys(before)),
    )
    return persona_id
