"""The journeys services called directly, on a real session: the rules easier to state
below GraphQL (versioning, conflicts, what a change writes, validation paths, ordering)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from uuid import UUID

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.service import authenticate_token
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.errors import DomainError, Forbidden, NotFound, ValidationFailed
from backend.journeys import findings, maps, personas, revisions, stages, touchpoints
from backend.journeys.commands import (
    AddOpportunity,
    AddPainPoint,
    AddStage,
    AddTouchpoint,
    CreateJourneyMap,
    CreatePersona,
    MapFields,
    MatchKeys,
    OpportunityFields,
    PainPointFields,
    PersonaEmotion,
    PersonaFields,
    StageFields,
    TouchpointFields,
    UpdateJourneyMap,
    UpdatePainPoint,
    UpdatePersona,
    UpdateStage,
    UpdateTouchpoint,
)
from backend.journeys.repository import MapRepository
from backend.journeys.versioning import StaleVersion
from backend.models import AuditEvent, JourneyMap, JourneyMapRevision, OutboxEvent
from backend.vocabulary.journeys import MapTemplate, Severity
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.errors import camel_path
from tests.fixtures.service_calls import outbox_events
from tests.fixtures.tenants import Tenant, add_guest


class Abort(Exception):
    """Raised inside a transaction to roll it back."""


async def _access(database: Database, token: str) -> Access:
    principal = await authenticate_token(database, token)
    assert principal is not None
    return await load_access(database, principal)


@pytest_asyncio.fixture(loop_scope="session")
async def owner(database: Database, tenant_a: Tenant) -> Access:
    return await _access(database, tenant_a.token)


@pytest.fixture
def workspace(tenant_a: Tenant) -> UUID:
    return tenant_a.workspace_ids[0]


@asynccontextmanager
async def writing(database: Database, access: Access) -> AsyncIterator[AsyncSession]:
    """A write transaction, as the API's boundary opens one (it commits at the end)."""
    async with database.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        yield session


async def _new_map(
    database: Database, access: Access, workspace: UUID, **options: object
) -> JourneyMap:
    async with writing(database, access) as session:
        return await maps.create_journey_map(
            session, access, CreateJourneyMap(workspace, MapFields(title="Checkout"), **options)
        )


async def _add_stage(database: Database, access: Access, map_id: UUID, name: str) -> UUID:
    async with writing(database, access) as session:
        stage, _ = await stages.add_stage(session, access, AddStage(map_id, StageFields(name=name)))
        return stage.id


async def _add_touchpoint(
    database: Database, access: Access, stage_id: UUID, name: str = "Pay"
) -> UUID:
    async with writing(database, access) as session:
        touchpoint, _ = await touchpoints.add_touchpoint(
            session, access, AddTouchpoint(stage_id, TouchpointFields(name=name))
        )
        return touchpoint.id


async def _revisions(database: Database, access: Access, map_id: UUID) -> list[tuple[int, str]]:
    async with database.transaction(access.binding()) as session:
        rows = await session.execute(
            select(JourneyMapRevision.version, JourneyMapRevision.action)
            .where(JourneyMapRevision.journey_map_id == map_id)
            .order_by(JourneyMapRevision.version)
        )
        return [(version, action) for version, action in rows]


async def _events(database: Database, access: Access, workspace: UUID) -> list[tuple[str, int]]:
    """The workspace's ``journey_map.changed`` events: (action, version), in order."""
    async with database.transaction(access.binding()) as session:
        payloads = (
            await session.scalars(
                select(OutboxEvent.payload)
                .where(
                    OutboxEvent.workspace_id == workspace,
                    OutboxEvent.event_type == "journey_map.changed",
                )
                .order_by(OutboxEvent.sequence)
            )
        ).all()
    return [(p["action"], p["version"]) for p in payloads]


async def _audited(database: Database, access: Access, workspace: UUID) -> list[str]:
    async with database.transaction(access.binding()) as session:
        return list(
            (
                await session.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.workspace_id == workspace)
                    .order_by(AuditEvent.sequence)
                )
            ).all()
        )


async def _version(database: Database, access: Access, map_id: UUID) -> int:
    async with database.transaction(access.binding()) as session:
        version = await session.scalar(select(JourneyMap.version).where(JourneyMap.id == map_id))
    assert version is not None
    return version


async def test_creating_a_map_records_version_one_with_revision_audit_and_event(
    database: Database, owner: Access, workspace: UUID
) -> None:
    journey_map = await _new_map(database, owner, workspace, template=MapTemplate.FIVE_STAGE)

    assert journey_map.version == 1
    assert await _revisions(database, owner, journey_map.id) == [(1, "journey_map.create")]
    assert await _events(database, owner, workspace) == [("journey_map.create", 1)]
    assert (await _audited(database, owner, workspace))[-1] == "journey_map.create"


async def test_each_change_bumps_the_version_once_and_stores_one_revision(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    stage_id = await _add_stage(database, owner, map_id, "Buy")
    touchpoint_id = await _add_touchpoint(database, owner, stage_id)
    async with writing(database, owner) as session:
        await stages.update_stage(
            session, owner, UpdateStage(stage_id, StageFields(description="Paying"))
        )
    async with writing(database, owner) as session:
        pain, _ = await findings.add_pain_point(
            session,
            owner,
            AddPainPoint(touchpoint_id, PainPointFields(title="Slow", severity=Severity.HIGH)),
        )
    async with writing(database, owner) as session:
        await findings.add_opportunity(
            session,
            owner,
            AddOpportunity(touchpoint_id, OpportunityFields(title="One tap"), pain.id),
        )
    async with writing(database, owner) as session:
        await touchpoints.remove_touchpoint(session, owner, touchpoint_id, expected_version=6)

    actions = [
        "journey_map.create",
        "stage.add",
        "touchpoint.add",
        "stage.update",
        "pain_point.add",
        "opportunity.add",
        "touchpoint.remove",
    ]
    assert await _version(database, owner, map_id) == len(actions)
    assert await _revisions(database, owner, map_id) == list(enumerate(actions, start=1))
    assert await _events(database, owner, workspace) == [
        (action, version) for version, action in enumerate(actions, start=1)
    ]


async def test_stale_expected_version_is_a_conflict_and_nothing_is_written(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    await _add_stage(database, owner, map_id, "Buy")
    audited = await _audited(database, owner, workspace)

    async with writing(database, owner) as session:
        with pytest.raises(StaleVersion) as raised:
            await maps.update_journey_map(
                session,
                owner,
                UpdateJourneyMap(map_id, MapFields(title="Renamed"), expected_version=1),
            )
        assert not session.new
        assert not session.dirty
        assert not session.deleted

    assert raised.value.current_version == 2
    assert raised.value.field == "expected_version"
    assert await _version(database, owner, map_id) == 2
    assert [v for v, _ in await _revisions(database, owner, map_id)] == [1, 2]
    assert await _audited(database, owner, workspace) == audited


async def test_a_rolled_back_change_leaves_no_revision_audit_or_event(
    database: Database, owner: Access, workspace: UUID
) -> None:
    """The revision, the audit event and the outbox event share the change's transaction."""
    map_id = (await _new_map(database, owner, workspace)).id
    audited = await _audited(database, owner, workspace)
    events = await _events(database, owner, workspace)

    async def add_then_fail() -> None:
        async with writing(database, owner) as session:
            await stages.add_stage(session, owner, AddStage(map_id, StageFields(name="Buy")))
            await session.flush()  # the rows reach the database before the failure
            raise Abort

    with pytest.raises(Abort):
        await add_then_fail()

    assert await _version(database, owner, map_id) == 1
    assert await _revisions(database, owner, map_id) == [(1, "journey_map.create")]
    assert await _audited(database, owner, workspace) == audited
    assert await _events(database, owner, workspace) == events


async def test_a_change_writes_its_audit_event_and_outbox_event_together(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    async with writing(database, owner) as session:
        before = await session.scalar(select(func.count()).select_from(OutboxEvent))
        stage, journey_map = await stages.add_stage(
            session, owner, AddStage(map_id, StageFields(name="Buy"))
        )
        # Both are in this very transaction, before it commits.
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "stage.add"))
        after = await session.scalar(select(func.count()).select_from(OutboxEvent))
    assert audit is not None
    assert audit.subject_id == str(stage.id)
    assert audit.changes["version"] == journey_map.version == 2
    assert after == (before or 0) + 1


async def test_an_update_that_changes_nothing_keeps_the_version(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    async with writing(database, owner) as session:
        await maps.update_journey_map(
            session, owner, UpdateJourneyMap(map_id, MapFields(title=" Checkout "))
        )
    assert await _version(database, owner, map_id) == 1
    assert (await _audited(database, owner, workspace))[-1] == "journey_map.update"


async def _refused(
    database: Database, access: Access, change: Callable[[AsyncSession], Awaitable[None]]
) -> DomainError:
    """The error a change raises (its transaction rolled back)."""
    with pytest.raises(DomainError) as raised:
        async with writing(database, access) as session:
            await change(session)
    return raised.value


async def test_validation_errors_carry_snake_case_paths(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    stage_id = await _add_stage(database, owner, map_id, "Buy")
    touchpoint_id = await _add_touchpoint(database, owner, stage_id)

    async def blank_url(session: AsyncSession) -> None:
        keys = MatchKeys(url_patterns=["/pay", " "])
        await touchpoints.update_touchpoint(
            session, owner, UpdateTouchpoint(touchpoint_id, TouchpointFields(match_keys=keys))
        )

    async def too_many_events(session: AsyncSession) -> None:
        keys = MatchKeys(event_names=[f"e{n}" for n in range(201)])
        await touchpoints.update_touchpoint(
            session, owner, UpdateTouchpoint(touchpoint_id, TouchpointFields(match_keys=keys))
        )

    async def blank_goal(session: AsyncSession) -> None:
        fields = StageFields(customer_goals=["Pay fast", ""])
        await stages.update_stage(session, owner, UpdateStage(stage_id, fields))

    async def ages_upside_down(session: AsyncSession) -> None:
        fields = PersonaFields(name="Planner", age_min=60, age_max=30)
        await personas.create_persona(session, owner, CreatePersona(workspace, fields))

    async def unknown_persona(session: AsyncSession) -> None:
        emotions = [PersonaEmotion(UUID(int=7), current=1)]
        await touchpoints.update_touchpoint(
            session,
            owner,
            UpdateTouchpoint(touchpoint_id, TouchpointFields(), persona_emotions=emotions),
        )

    async def unknown_map_persona(session: AsyncSession) -> None:
        await maps.update_journey_map(
            session, owner, UpdateJourneyMap(map_id, persona_ids=[UUID(int=8)])
        )

    expected = {
        blank_url: (ValidationFailed, "match_keys.url_patterns[1]"),
        too_many_events: (ValidationFailed, "match_keys.event_names"),
        blank_goal: (ValidationFailed, "customer_goals[1]"),
        ages_upside_down: (ValidationFailed, "age_min"),
        unknown_persona: (NotFound, "persona_emotions[0].persona_id"),
        unknown_map_persona: (NotFound, "persona_ids[0]"),
    }
    for change, (kind, path) in expected.items():
        error = await _refused(database, owner, change)
        assert (type(error), error.field) == (kind, path)
    # The API renders them in its own names, once.
    assert camel_path("match_keys.url_patterns[1]") == "matchKeys.urlPatterns[1]"
    assert camel_path("persona_emotions[0].persona_id") == "personaEmotions[0].personaId"
    assert await _version(database, owner, map_id) == 3  # none of them wrote anything


async def test_a_position_past_the_end_is_refused(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    stage_id = await _add_stage(database, owner, map_id, "Buy")

    async def too_far(session: AsyncSession) -> None:
        await stages.move_stage(session, owner, stage_id, position=1, expected_version=None)

    error = await _refused(database, owner, too_far)
    assert (error.message, error.field) == ("Must be between 0 and 0.", "position")


async def test_a_viewer_cannot_change_a_map(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    _, token = await add_guest(database, workspace, "viewer@guest.example", WorkspaceRole.VIEWER)
    viewer = await _access(database, token)

    async def add(session: AsyncSession) -> None:
        await stages.add_stage(session, viewer, AddStage(map_id, StageFields(name="Buy")))

    error = await _refused(database, viewer, add)
    assert (type(error), error.field) == (Forbidden, "journey_map_id")
    assert await _version(database, owner, map_id) == 1


async def test_deleting_a_map_takes_its_content_along(
    database: Database, owner: Access, workspace: UUID, inspector_engine: AsyncEngine
) -> None:
    journey_map = await _new_map(database, owner, workspace, template=MapTemplate.FIVE_STAGE)
    async with database.transaction(owner.binding()) as session:
        stage_ids = [s.id for s in await MapRepository(session).stages_of([journey_map.id])]
    touchpoint_id = await _add_touchpoint(database, owner, stage_ids[0])

    async with writing(database, owner) as session:
        await maps.delete_journey_map(session, owner, journey_map.id, expected_version=2)
    async with database.transaction(owner.binding()) as session:
        repo = MapRepository(session)
        assert await repo.by_ids([journey_map.id]) == []
        assert await repo.stages_by_ids(stage_ids) == []
        assert await repo.touchpoints_by_ids([touchpoint_id]) == []

    async with writing(database, owner) as session:
        await maps.restore_deleted_journey_map(
            session, owner, journey_map.id, expected_version=None
        )
    async with database.transaction(owner.binding()) as session:
        repo = MapRepository(session)
        assert len(await repo.stages_by_ids(stage_ids)) == len(stage_ids)
        assert [t.id for t in await repo.touchpoints_by_ids([touchpoint_id])] == [touchpoint_id]
    # Leaving and coming back change what the workspace's health is made of: both are
    # announced like any change to the map, so health recalculates.
    changed = await outbox_events(inspector_engine, workspace, "journey_map.changed")
    assert [e["action"] for e in changed if e["journey_map_id"] == str(journey_map.id)][-2:] == [
        "journey_map.delete",
        "journey_map.undelete",
    ]


async def _persona(database: Database, access: Access, workspace: UUID, name: str) -> UUID:
    async with writing(database, access) as session:
        persona = await personas.create_persona(
            session, access, CreatePersona(workspace, PersonaFields(name=name))
        )
        return persona.id


async def test_persona_links_keep_the_order_given(
    database: Database, owner: Access, workspace: UUID
) -> None:
    a, b, c = [await _persona(database, owner, workspace, name) for name in ("A", "B", "C")]
    journey_map = await _new_map(database, owner, workspace, persona_ids=[c, a, c, b])

    async with database.transaction(owner.binding()) as session:
        linked = await MapRepository(session).persona_ids([journey_map.id])
    assert linked[journey_map.id] == [c, a, b]  # duplicates dropped, first place kept

    async with writing(database, owner) as session:
        await maps.update_journey_map(
            session, owner, UpdateJourneyMap(journey_map.id, persona_ids=[b, c])
        )
    async with database.transaction(owner.binding()) as session:
        linked = await MapRepository(session).persona_ids([journey_map.id])
        revision = await revisions.revision(session, journey_map.id, 2, field="version")
    assert linked[journey_map.id] == [b, c]
    assert revision.snapshot["personas"] == [str(b), str(c)]


async def test_deleting_a_persona_gives_each_of_its_maps_a_system_version(
    database: Database, owner: Access, workspace: UUID
) -> None:
    kept = await _persona(database, owner, workspace, "Kept")
    gone = await _persona(database, owner, workspace, "Gone")
    journey_map = await _new_map(database, owner, workspace, persona_ids=[gone, kept])
    other = await _new_map(database, owner, workspace)

    async with writing(database, owner) as session:
        await personas.delete_persona(session, owner, gone)

    assert await _revisions(database, owner, journey_map.id) == [
        (1, "journey_map.create"),
        (2, "persona.delete"),
    ]
    assert await _version(database, owner, other.id) == 1
    async with database.transaction(owner.binding()) as session:
        revision = await revisions.revision(session, journey_map.id, 2, field="version")
        linked = await MapRepository(session).persona_ids([journey_map.id])
    assert revision.created_by is None
    assert linked[journey_map.id] == [kept]


async def test_a_persona_name_is_unique_in_its_workspace(
    database: Database, owner: Access, workspace: UUID
) -> None:
    await _persona(database, owner, workspace, "Planner")
    other = await _persona(database, owner, workspace, "Parent")

    async def rename(session: AsyncSession) -> None:
        fields = PersonaFields(name=" Planner ")
        await personas.update_persona(session, owner, UpdatePersona(other, fields))

    error = await _refused(database, owner, rename)
    assert (type(error), error.field) == (ValidationFailed, "name")


async def test_restoring_a_revision_brings_its_content_back_as_a_new_version(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    stage_id = await _add_stage(database, owner, map_id, "Buy")
    touchpoint_id = await _add_touchpoint(database, owner, stage_id)
    async with writing(database, owner) as session:
        await stages.remove_stage(session, owner, stage_id, expected_version=3)

    async with writing(database, owner) as session:
        restored = await revisions.restore_revision(session, owner, map_id, 3, expected_version=4)
        assert restored.version == 5
    async with database.transaction(owner.binding()) as session:
        repo = MapRepository(session)
        assert [t.id for t in await repo.touchpoints_by_ids([touchpoint_id])] == [touchpoint_id]
    assert (await _revisions(database, owner, map_id))[-1] == (5, "journey_map.restore:3")


async def test_a_pain_point_update_leaves_out_what_was_not_sent(
    database: Database, owner: Access, workspace: UUID
) -> None:
    map_id = (await _new_map(database, owner, workspace)).id
    stage_id = await _add_stage(database, owner, map_id, "Buy")
    touchpoint_id = await _add_touchpoint(database, owner, stage_id)
    async with writing(database, owner) as session:
        pain, _ = await findings.add_pain_point(
            session,
            owner,
            AddPainPoint(
                touchpoint_id,
                PainPointFields(title="Slow", description="Spins", severity=Severity.LOW),
            ),
        )
    async with writing(database, owner) as session:
        changed, _ = await findings.update_pain_point(
            session,
            owner,
            UpdatePainPoint(pain.id, PainPointFields(severity=Severity.HIGH)),
        )
        assert (changed.title, changed.description, changed.severity) == (
            "Slow",
            "Spins",
            Severity.HIGH,
        )
