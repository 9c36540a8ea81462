"""On Postgres a map's revision is written by Postgres (backend/journeys/snapshot_sql.py):
after every kind of change the revision stored is the document Python would have
written from the ORM, and an edit reads none of the map's content into Python."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.service import authenticate_token
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.journeys import findings, maps, personas, revisions, snapshot_sql, stages, touchpoints
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
    UpdateTouchpoint,
)
from backend.journeys.snapshots import snapshot_in_python
from backend.models import JourneyMap, JourneyMapRevision
from backend.vocabulary.journeys import (
    Channel,
    Device,
    MapStatus,
    MapTemplate,
    PainPointStatus,
    Scenario,
    Severity,
)
from tests.conftest import make_database
from tests.fixtures.counting import statements_sent
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.tenants import Tenant

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the snapshot")

Change = Callable[[AsyncSession], Awaitable[object]]


@pytest_asyncio.fixture(loop_scope="session")
async def owner(database: Database, tenant_a: Tenant) -> Access:
    principal = await authenticate_token(database, tenant_a.token)
    assert principal is not None
    return await load_access(database, principal)


@asynccontextmanager
async def writing(database: Database, access: Access) -> AsyncIterator[AsyncSession]:
    async with database.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        yield session


async def _latest(database: Database, access: Access, map_id: UUID) -> tuple[int, dict[str, Any]]:
    """The map's newest stored revision, and what Python writes of the map now."""
    async with database.transaction(access.binding()) as session:
        journey_map = await session.scalar(select(JourneyMap).where(JourneyMap.id == map_id))
        assert journey_map is not None
        stored = await session.scalar(
            select(JourneyMapRevision)
            .where(JourneyMapRevision.journey_map_id == map_id)
            .order_by(JourneyMapRevision.version.desc())
            .limit(1)
        )
        assert stored is not None
        assert stored.version == journey_map.version
        python = await snapshot_in_python(session, journey_map)
        # The read the restore and the copy use gives the same document.
        assert await snapshot_sql.read(session, journey_map.workspace_id, map_id) == python
        assert stored.snapshot == python
        return stored.version, python


async def test_every_kind_of_change_stores_the_document_python_writes(
    database: Database, owner: Access, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    workspace = tenant_a.workspace_ids[0]

    async def change(action: Change) -> object:
        async with writing(database, owner) as session:
            return await action(session)

    async def persona(name: str) -> UUID:
        async def create(session: AsyncSession) -> UUID:
            made = await personas.create_persona(
                session, owner, CreatePersona(workspace, PersonaFields(name=name))
            )
            return made.id

        return UUID(str(await change(create)))

    first, second, third = [await persona(name) for name in ("Ana", "Ben", "Cy")]

    async def create(session: AsyncSession) -> JourneyMap:
        fields = MapFields(
            title='Checkout "express" — ünïcode ✓',
            description="Line one\nline two\\",
            objectives=["Pay fast", "Trust"],
            status=MapStatus.ACTIVE,
            scenario=Scenario.FUTURE_STATE,
            departments=["Sales", "Support"],
        )
        command = CreateJourneyMap(
            workspace, fields, template=MapTemplate.FIVE_STAGE, persona_ids=[third, first, second]
        )
        return await maps.create_journey_map(session, owner, command)

    journey_map = await change(create)
    assert isinstance(journey_map, JourneyMap)
    map_id = journey_map.id
    versions = [(await _latest(database, owner, map_id))[0]]

    async def done(action: Change) -> dict[str, Any]:
        await change(action)
        version, document = await _latest(database, owner, map_id)
        assert version == versions[-1] + 1
        versions.append(version)
        return document

    document = await done(
        lambda s: stages.add_stage(
            s,
            owner,
            AddStage(
                map_id, StageFields(name="Renew", customer_goals=["Stay"], questions=["Why?"])
            ),
        )
    )
    stage_ids = [UUID(stage["id"]) for stage in document["stages"]]
    touchpoint = TouchpointFields(
        name="Pay",
        channel=Channel.WEB,
        device=None,
        customer_actions=["Click", "Type"],
        emotion=-2,
        moment_of_truth=True,
        traffic=12_000,
        owning_department="Payments",
        match_keys=MatchKeys(event_names=["pay.done"], url_patterns=["/pay*"]),
    )
    emotions = [PersonaEmotion(second, -1, 2), PersonaEmotion(first, None, 1)]
    document = await done(
        lambda s: touchpoints.add_touchpoint(
            s, owner, AddTouchpoint(stage_ids[1], touchpoint, persona_emotions=emotions)
        )
    )
    await done(
        lambda s: touchpoints.add_touchpoint(
            s, owner, AddTouchpoint(stage_ids[1], TouchpointFields(name="Wait"), position=0)
        )
    )
    pay = UUID(document["stages"][1]["touchpoints"][0]["id"])
    for title, severity in (("Slow", Severity.HIGH), ("Card refused", Severity.CRITICAL)):
        await done(
            lambda s, title=title, severity=severity: findings.add_pain_point(
                s, owner, AddPainPoint(pay, PainPointFields(title=title, severity=severity))
            )
        )
    document = await done(lambda s: _noop_rename(s, owner, pay, "Pay now"))
    (pains,) = [
        t["pain_points"] for t in document["stages"][1]["touchpoints"] if t["id"] == str(pay)
    ]
    await done(
        lambda s: findings.add_opportunity(
            s,
            owner,
            AddOpportunity(
                pay, OpportunityFields(title="Wallets"), pain_point_id=UUID(pains[0]["id"])
            ),
        )
    )
    await done(
        lambda s: findings.add_opportunity(
            s, owner, AddOpportunity(pay, OpportunityFields(title="Retry"))
        )
    )
    await done(
        lambda s: findings.update_pain_point(
            s,
            owner,
            UpdatePainPoint(UUID(pains[1]["id"]), PainPointFields(status=PainPointStatus.RESOLVED)),
        )
    )
    await done(
        lambda s: touchpoints.update_touchpoint(
            s,
            owner,
            UpdateTouchpoint(
                pay,
                TouchpointFields(device=Device.TABLET, channel=None, traffic=None),
                persona_emotions=[PersonaEmotion(third, 2, 2), PersonaEmotion(second, 0, None)],
            ),
        )
    )
    await done(
        lambda s: touchpoints.move_touchpoint(
            s, owner, pay, stage_id=stage_ids[3], position=0, expected_version=None
        )
    )
    await done(
        lambda s: stages.move_stage(s, owner, stage_ids[3], position=0, expected_version=None)
    )
    await done(
        lambda s: maps.update_journey_map(
            s,
            owner,
            UpdateJourneyMap(map_id, MapFields(objectives=[]), persona_ids=[second, third]),
        )
    )
    # A time on the second exactly: Python still writes its six digits of microseconds;
    # and two pain points made at the same moment: their ids decide, in both.
    async with inspector_engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE pain_points SET created_at = '2026-01-02 03:04:05+00' WHERE id = ANY(:ids)"
            ),
            {"ids": [UUID(p["id"]) for p in pains]},
        )
    document = await done(lambda s: _noop_rename(s, owner, pay, "Pay at once"))
    assert "2026-01-02T03:04:05.000000+00:00" in str(document)
    (tied,) = [
        t["pain_points"]
        for st in document["stages"]
        for t in st["touchpoints"]
        if t["id"] == str(pay)
    ]
    assert [p["id"] for p in tied] == sorted(p["id"] for p in pains)
    await done(lambda s: stages.remove_stage(s, owner, stage_ids[0], expected_version=None))
    # A system version (no actor): the persona goes from the map and from its emotions.
    await done(lambda s: personas.delete_persona(s, owner, second))
    restored = await done(
        lambda s: revisions.restore_revision(s, owner, map_id, versions[4], expected_version=None)
    )

    async def duplicate(session: AsyncSession) -> JourneyMap:
        return await revisions.duplicate_journey_map(
            session, owner, map_id, title=None, scenario=Scenario.CURRENT_STATE
        )

    copy = await change(duplicate)
    assert isinstance(copy, JourneyMap)
    version, copied = await _latest(database, owner, copy.id)
    assert version == 1
    names = [[t["name"] for t in stage["touchpoints"]] for stage in restored["stages"]]
    assert [[t["name"] for t in stage["touchpoints"]] for stage in copied["stages"]] == names
    # Every change above made one revision, and each was compared.
    assert versions == list(range(1, len(versions) + 1))


async def _noop_rename(
    session: AsyncSession, access: Access, touchpoint_id: UUID, name: str
) -> object:
    return await touchpoints.update_touchpoint(
        session, access, UpdateTouchpoint(touchpoint_id, TouchpointFields(name=name))
    )


async def test_an_edit_reads_none_of_the_maps_content_into_python(
    database: Database, owner: Access, tenant_a: Tenant
) -> None:
    """Its revision is one INSERT that Postgres fills: no statement of the edit selects
    the map's stages, pain points, opportunities, emotions or personas (Python's way
    read all five, whatever the map's size)."""
    workspace = tenant_a.workspace_ids[0]
    async with writing(database, owner) as session:
        journey_map = await maps.create_journey_map(
            session,
            owner,
            CreateJourneyMap(workspace, MapFields(title="Big"), template=MapTemplate.FIVE_STAGE),
        )
        first_stage = (await snapshot_sql.read(session, workspace, journey_map.id))["stages"][0]
        added, _ = await touchpoints.add_touchpoint(
            session, owner, AddTouchpoint(UUID(first_stage["id"]), TouchpointFields(name="Pay"))
        )
        await findings.add_pain_point(
            session,
            owner,
            AddPainPoint(added.id, PainPointFields(title="Slow", severity=Severity.LOW)),
        )

    with statements_sent(database) as sent:
        async with writing(database, owner) as session:
            await _noop_rename(session, owner, added.id, "Pay now")
    statements = [" ".join(s.split()) for s in sent]

    content = (
        "stages",
        "pain_points",
        "opportunities",
        "touchpoint_emotions",
        "journey_map_personas",
    )
    reads = [s for s in statements if s.upper().startswith("SELECT")]
    assert reads
    assert not [s for s in reads for table in content if f"FROM {table} " in s], reads
    inserts = [s for s in statements if s.startswith("INSERT INTO journey_map_revisions")]
    assert len(inserts) == 1
    assert "json_build_object" in inserts[0]
    async with database.transaction(owner.binding()) as session:
        stored = await session.scalar(
            select(JourneyMapRevision.snapshot).where(
                JourneyMapRevision.journey_map_id == journey_map.id,
                JourneyMapRevision.version == 4,  # made, touchpoint, pain point, rename
            )
        )
    assert stored is not None
    names = [t["name"] for stage in stored["stages"] for t in stage["touchpoints"]]
    assert names == ["Pay now"]


async def test_with_the_first_versions_setting_python_writes_the_revision_on_postgres(
    test_database: TestDatabase, owner: Access, tenant_a: Tenant
) -> None:
    """``sql_snapshots=False`` (``WAYPOST_PLANNED_READS=false``, kept for comparing): the
    edit reads the map into the ORM as the first version did, and stores the same
    document Postgres would have."""
    python_writes = make_database(test_database, sql_snapshots=False)
    try:
        async with writing(python_writes, owner) as session:
            journey_map = await maps.create_journey_map(
                session,
                owner,
                CreateJourneyMap(
                    tenant_a.workspace_ids[0],
                    MapFields(title="Old way"),
                    template=MapTemplate.FIVE_STAGE,
                ),
            )
        with statements_sent(python_writes) as sent:
            async with writing(python_writes, owner) as session:
                await maps.update_journey_map(
                    session, owner, UpdateJourneyMap(journey_map.id, MapFields(title="Renamed"))
                )
        statements = [" ".join(s.split()) for s in sent]
        assert [s for s in statements if s.startswith("SELECT stages.")]
        assert not [s for s in statements if "json_build_object" in s]
        async with python_writes.transaction(owner.binding()) as session:
            stored = await session.scalar(
                select(JourneyMapRevision.snapshot).where(
                    JourneyMapRevision.journey_map_id == journey_map.id,
                    JourneyMapRevision.version == 2,
                )
            )
            written = await snapshot_sql.read(session, tenant_a.workspace_ids[0], journey_map.id)
        assert stored == written
        assert stored is not None
        assert stored["title"] == "Renamed"
    finally:
        await python_writes.dispose()
