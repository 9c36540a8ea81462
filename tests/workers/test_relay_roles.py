"""The background pipeline with the production roles: the relay finds due events.

On Postgres the suite runs as production does (migrations as a non-superuser owner,
the application logged in as a NOINHERIT role that switches to waypost_app), so the
relay's lookup of due workspaces meets FORCE ROW LEVEL SECURITY with no workspace
bound, exactly as in a deployment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.db.types import utcnow
from backend.outbox.emit import emit
from backend.settings import Settings
from tests.conftest import make_database
from tests.fixtures.background import eventually
from tests.fixtures.databases import TestDatabase, configured_broker_url, is_postgres_run
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import build_world
from workers.background import Background

SUBMIT = """mutation($input: SubmitFeedbackInput!) { submitFeedback(input: $input) {
  feedback { id } errors { code field message } } }"""
HEALTH = """query($id: ID!) { node(id: $id) { ... on Touchpoint {
  health { score sampleSize } } } }"""


async def _session_user(database: Database) -> str:
    async with database.transaction(NO_TENANT) as session:
        return str(await session.scalar(text("select session_user")))


async def test_an_event_from_a_mutation_is_relayed_and_handled_with_the_production_roles(
    settings: Settings,
    test_database: TestDatabase,
    database: Database,
    gql: GraphQLClient,
    tenant_a: Tenant,
) -> None:
    workspace = tenant_a.workspace_ids[0]
    world = await build_world(database, workspace)
    touchpoint = global_id("Touchpoint", world.touchpoint_ids[1])
    item = {"source": "SURVEY", "externalId": "relay-1", "measure": "CSAT", "measureValue": 5}
    item["touchpointId"] = touchpoint
    submitted = await gql(
        SUBMIT, {"input": {"workspaceId": tenant_a.ws_gid(0), "item": item}}, token=tenant_a.token
    )
    assert submitted["data"]["submitFeedback"]["errors"] == []

    async def health() -> dict[str, Any] | None:
        body = await gql(HEALTH, {"id": touchpoint}, token=tenant_a.token)
        found: dict[str, Any] | None = body["data"]["node"]["health"]
        return found

    assert await health() is None  # nothing handled yet

    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "health_coalesce_ms": 100}
    )
    background = Background(worker_settings, database, run_workers=True)
    # One relay pass on the application's own connections (the login role on Postgres),
    # before any worker runs: the mutation's event is due and goes to the broker.
    if test_database.is_postgres:
        assert await _session_user(database) == make_url(test_database.app_url).username
    assert await background.relay.due_workspaces() == [workspace]
    assert await background.relay.relay_once() == 1

    async with background:  # the workers take the message: sentiment, then health
        scored = await eventually(health)
    assert scored["sampleSize"] == 1


@pytest.mark.skipif(not is_postgres_run(), reason="row-level security exists only on Postgres")
async def test_the_application_role_still_sees_no_event_of_an_unbound_workspace(
    test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    """The lookup's policy is the owner's alone: the application's role reads nothing more."""
    workspace = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as session:
        bind_actor(session, Actor.system())
        await emit(session, workspace, "test.unseen", {})
    unscoped = make_database(test_database, app_scoping=False)  # RLS alone stands
    try:
        async with unscoped.transaction(NO_TENANT) as session:
            role = await session.scalar(text("select current_user"))
            seen = await session.scalar(text("select count(*) from outbox_events"))
        async with unscoped.transaction(TenantBinding(frozenset({workspace}))) as session:
            bound = await session.scalar(text("select count(*) from outbox_events"))
    finally:
        await unscoped.dispose()
    assert (role, seen, bound) == ("waypost_app", 0, 1)


@pytest.mark.skipif(not is_postgres_run(), reason="the lookup is a Postgres function")
async def test_the_due_lookup_reads_the_due_events_not_every_one_in_flight(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """A worker stopped: thousands of events dispatched and not yet processed. Every
    relay poll (each API process, every second) asks which workspaces are due; it must
    find the one due event without reading the backlog (it read all of it before)."""
    due, busy = tenant_a.workspace_ids[0], tenant_a.workspace_ids[1]
    async with database.transaction(TenantBinding(frozenset({due})), write=True) as session:
        bind_actor(session, Actor.system())
        await emit(session, due, "test.due", {})
    async with inspector_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO outbox_events (workspace_id, id, sequence, event_type, payload,"
                " created_at, dispatched_at, dispatch_count)"
                " SELECT :ws, gen_random_uuid(), 100000 + n, 'test.in_flight',"
                " jsonb_build_object('n', n, 'padding', repeat('x', 200)), now(), now(), 1"
                " FROM generate_series(1, 4000) AS n"
            ),
            {"ws": busy},
        )
        await connection.execute(text("ANALYZE outbox_events"))

    # Dispatched a moment ago: in flight for the production window of 15 minutes.
    before = utcnow() - timedelta(minutes=15)
    relay = Background(settings, database, run_workers=False).relay
    assert await relay.due_workspaces(before) == [due]
    explain = text(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)"
        " SELECT * FROM waypost_outbox_due_workspaces(:before)"
    )
    async with database.transaction(NO_TENANT) as session:
        # The first call also reads the catalogs to plan the function's query.
        await session.execute(explain, {"before": before})
        plan = await session.scalar(explain, {"before": before})
    scan = plan[0]["Plan"]
    pages = scan["Shared Hit Blocks"] + scan["Shared Read Blocks"]
    # The 4,000 events in flight fill some 150 pages; the due one sits on one or two,
    # with the index's own few.
    assert pages < 40, pages
