"""Mutations: personas and journey maps."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.journeys import maps, personas, revisions
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.journeys.conflicts import CarriesCurrentMap
from graphql_schema.journeys.inputs import (
    CreateJourneyMapInput,
    CreatePersonaInput,
    DeleteJourneyMapInput,
    DeletePersonaInput,
    DuplicateJourneyMapInput,
    RestoreJourneyMapRevisionInput,
    UpdateJourneyMapInput,
    UpdatePersonaInput,
)
from graphql_schema.journeys.types import JourneyMapType, PersonaType
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import EDITOR, WORKSPACE_ADMIN, mutation
from graphql_schema.relay import parse_id


@strawberry.type
class PersonaPayload:
    persona: PersonaType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePersonaPayload:
    deleted_persona_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class JourneyMapPayload(CarriesCurrentMap):
    journey_map: JourneyMapType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteJourneyMapPayload:
    deleted_journey_map_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class JourneyMutations:
    @mutation(
        EDITOR,
        "Create a persona (workspace EDITOR).",
    )
    async def create_persona(self, info: Info, input: CreatePersonaInput) -> PersonaPayload:
        async def action(session: AsyncSession) -> PersonaPayload:
            persona = await personas.create_persona(
                session, info.context.access, input.to_command()
            )
            return PersonaPayload(persona=PersonaType.from_model(persona))

        return await run_mutation(info, PersonaPayload, action)

    @mutation(
        EDITOR,
        "Change a persona; omitted fields stay (EDITOR).",
    )
    async def update_persona(self, info: Info, input: UpdatePersonaInput) -> PersonaPayload:
        async def action(session: AsyncSession) -> PersonaPayload:
            persona = await personas.update_persona(
                session, info.context.access, input.to_command()
            )
            return PersonaPayload(persona=PersonaType.from_model(persona))

        return await run_mutation(info, PersonaPayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Delete a persona for good (it cannot be restored); maps featuring it drop it.",
    )
    async def delete_persona(self, info: Info, input: DeletePersonaInput) -> DeletePersonaPayload:
        async def action(session: AsyncSession) -> DeletePersonaPayload:
            persona_id = parse_id(input.id, "Persona", field="id")
            await personas.delete_persona(session, info.context.access, persona_id)
            return DeletePersonaPayload(deleted_persona_id=input.id)

        return await run_mutation(info, DeletePersonaPayload, action)

    @mutation(
        EDITOR,
        "Create a journey map, blank or from a template (EDITOR).",
    )
    async def create_journey_map(
        self, info: Info, input: CreateJourneyMapInput
    ) -> JourneyMapPayload:
        async def action(session: AsyncSession) -> JourneyMapPayload:
            journey_map = await maps.create_journey_map(
                session, info.context.access, input.to_command()
            )
            return JourneyMapPayload(journey_map=JourneyMapType.from_model(journey_map))

        return await run_mutation(info, JourneyMapPayload, action)

    @mutation(
        EDITOR,
        "Change a map's own fields; honours expectedVersion.",
    )
    async def update_journey_map(
        self, info: Info, input: UpdateJourneyMapInput
    ) -> JourneyMapPayload:
        async def action(session: AsyncSession) -> JourneyMapPayload:
            journey_map = await maps.update_journey_map(
                session, info.context.access, input.to_command()
            )
            return JourneyMapPayload(journey_map=JourneyMapType.from_model(journey_map))

        return await run_mutation(info, JourneyMapPayload, action)

    @mutation(
        EDITOR,
        "Bring a map back to an earlier version (a new version).",
    )
    async def restore_journey_map_revision(
        self, info: Info, input: RestoreJourneyMapRevisionInput
    ) -> JourneyMapPayload:
        async def action(session: AsyncSession) -> JourneyMapPayload:
            map_id = parse_id(input.journey_map_id, "JourneyMap", field="journey_map_id")
            journey_map = await revisions.restore_revision(
                session,
                info.context.access,
                map_id,
                input.version,
                expected_version=input.expected_version,
            )
            return JourneyMapPayload(journey_map=JourneyMapType.from_model(journey_map))

        return await run_mutation(info, JourneyMapPayload, action)

    @mutation(
        EDITOR,
        "Copy a map with everything inside it, under new ids.",
    )
    async def duplicate_journey_map(
        self, info: Info, input: DuplicateJourneyMapInput
    ) -> JourneyMapPayload:
        async def action(session: AsyncSession) -> JourneyMapPayload:
            map_id = parse_id(input.id, "JourneyMap", field="id")
            copy = await revisions.duplicate_journey_map(
                session, info.context.access, map_id, title=input.title, scenario=input.scenario
            )
            return JourneyMapPayload(journey_map=JourneyMapType.from_model(copy))

        return await run_mutation(info, JourneyMapPayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Undo a map's deletion within 30 days.",
    )
    async def restore_deleted_journey_map(
        self, info: Info, input: DeleteJourneyMapInput
    ) -> JourneyMapPayload:
        async def action(session: AsyncSession) -> JourneyMapPayload:
            map_id = parse_id(input.id, "JourneyMap", field="id")
            journey_map = await maps.restore_deleted_journey_map(
                session, info.context.access, map_id, expected_version=input.expected_version
            )
            return JourneyMapPayload(journey_map=JourneyMapType.from_model(journey_map))

        return await run_mutation(info, JourneyMapPayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Delete a map; restorable for 30 days.",
    )
    async def delete_journey_map(
        self, info: Info, input: DeleteJourneyMapInput
    ) -> DeleteJourneyMapPayload:
        async def action(session: AsyncSession) -> DeleteJourneyMapPayload:
            map_id = parse_id(input.id, "JourneyMap", field="id")
            await maps.delete_journey_map(
                session, info.context.access, map_id, expected_version=input.expected_version
            )
            return DeleteJourneyMapPayload(deleted_journey_map_id=input.id)

        return await run_mutation(info, DeleteJourneyMapPayload, action)
