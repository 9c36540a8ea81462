"""Journeys' fields on Workspace: its personas and journey maps, live and deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import strawberry

from backend.db.pagination import Page, PageRequest
from backend.journeys.maps import deleted_maps_page
from backend.journeys.repository import MapRepository, PersonaRepository
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.context import Info
from graphql_schema.journeys.types import JourneyMapType, MapOrder, MapStatus, PersonaType, Scenario
from graphql_schema.permissions import WORKSPACE_ADMIN_READ, restricted_field
from graphql_schema.relay import Connection, decode_global_id

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import WorkspaceType


@strawberry.field(description="Personas, by name; `search` matches part of the name.")
async def personas(
    root: WorkspaceType,
    info: Info,
    search: str | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[PersonaType]:
    async with info.context.read() as session:
        page = await PersonaRepository(session).page(
            UUID(root.id), search, PageRequest(first, after, last, before)
        )
    return Connection.from_page(page, PersonaType.from_model)


@strawberry.field(description="Journey maps, by title; filters combine.")
async def journey_maps(
    root: WorkspaceType,
    info: Info,
    status: MapStatus | None = None,
    scenario: Scenario | None = None,
    persona_id: strawberry.ID | None = None,
    search: str | None = None,
    order_by: MapOrder = MapOrder.TITLE,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[JourneyMapType]:
    persona = decode_global_id(persona_id) if persona_id else None
    if persona_id and (persona is None or persona[0] != "Persona"):
        return Connection.from_page(Page([], [], False, 0), JourneyMapType.from_model)
    async with info.context.read() as session:
        page = await MapRepository(session).page(
            UUID(root.id),
            status=status,
            scenario=scenario,
            persona_id=persona[1] if persona else None,
            search=search,
            page=PageRequest(first, after, last, before),
            order=order_by,
        )
    return Connection.from_page(page, JourneyMapType.from_model)


@restricted_field(WORKSPACE_ADMIN_READ, "Maps deleted in the last 30 days, restorable.")
async def deleted_journey_maps(
    root: WorkspaceType,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[JourneyMapType] | None:
    role = info.context.access.workspace_role(UUID(root.id))
    if role is None or not role.at_least(WorkspaceRole.ADMIN):
        return None
    async with info.context.read() as session:
        page = await deleted_maps_page(
            session, UUID(root.id), PageRequest(first, after, last, before)
        )
    return Connection.from_page(page, JourneyMapType.from_model)
