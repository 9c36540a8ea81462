"""From a mutation to a worker: outbox, relay, broker, actor, idempotent handling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import AuditVerification, ChainHead, OutboxEvent
from backend.models.audit import AuditScope
from backend.outbox.dispatch import subscribe
from backend.outbox.emit import emit
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant
from workers.background import Background

ADD_MEMBER = """mutation($ws: ID!) { addWorkspaceMember(input: {workspaceId: $ws,
  email: "new@x.io", role: VIEWER}) { errors { code } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def background(settings: Settings, database: Database) -> AsyncIterator[Background]:
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "outbox_redeliver_after_seconds": 600}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


async def _outbox(database: Database, workspace_id: UUID) -> list[OutboxEvent]:
    async with database.transaction(TenantBinding(frozenset({workspace_id}))) as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.workspace_id == workspace_id)
                    .order_by(OutboxEvent.sequence)
                )
            ).all()
        )


async def _verification(database: Database, workspace_id: UUID) -> AuditVerification | None:
    async with database.transaction(TenantBinding(frozenset({workspace_id}))) as session:
        return await session.get(AuditVerification, (workspace_id, workspace_id))


async def test_an_event_written_by_a_mutation_is_processed_by_a_worker(
    background: Background, gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[0]
    body = await gql(ADD_MEMBER, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    assert body["data"]["addWorkspaceMember"]["errors"] == []

    async def processed() -> list[OutboxEvent]:
        events = await _outbox(database, workspace)
        return events if events and all(e.processed_at for e in events) else []

    [event] = await eventually(processed)
    assert event.event_type == "workspace_member.changed"
    assert event.dispatch_count >= 1
    # The handler's effect: the audit chain was verified up to the mutation's event.
    checkpoint = await _verification(database, workspace)
    assert checkpoint is not None
    assert checkpoint.ok
    assert checkpoint.verified_sequence == 1


async def test_the_same_message_twice_leaves_the_same_state(
    background: Background, database: Database, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[0]
    runs: list[UUID] = []

    async def count(_session: object, event: OutboxEvent) -> None:
        runs.append(event.id)

    subscribe("test.counted", count)  # type: ignore[arg-type]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
        bind_actor(s, Actor.system())
        event = await emit(s, workspace, "test.counted", {"n": 1})
    event_id = event.id
    # Deliver it three times: through the relay and twice by hand.
    for _ in range(2):
        background.actors.dispatch_outbox_event.send(str(workspace), str(event_id))
    await background.relay.relay_once()

    async def settled() -> bool:
        [row] = await _outbox(database, workspace)
        return row.processed_at is not None

    await eventually(settled)
    before = [(e.id, e.processed_at) for e in await _outbox(database, workspace)]
    background.actors.dispatch_outbox_event.send(str(workspace), str(event_id))
    await background.relay.relay_once()  # nothing due any more
    assert runs == [event_id]
    assert [(e.id, e.processed_at) for e in await _outbox(database, workspace)] == before


async def test_outbox_numbers_events_in_commit_order_per_workspace(
    database: Database, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[1]
    for n in range(3):
        async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
            bind_actor(s, Actor.system())
            await emit(s, workspace, "test.ordered", {"n": n})
    events = await _outbox(database, workspace)
    assert [e.sequence for e in events] == [1, 2, 3]
    assert [e.payload["n"] for e in events] == [0, 1, 2]
    async with database.transaction(TenantBinding()) as session:
        head = await session.get(ChainHead, (AuditScope.WORKSPACE, workspace))
    assert head is not None
    assert head.outbox_sequence == 3


async def test_an_actor_sees_only_the_workspace_it_acts_for(
    background: Background, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Its session is bound to one workspace: an unfiltered query finds nothing else."""
    workspaces = [tenant_a.workspace_ids[0], tenant_a.workspace_ids[1], tenant_b.workspace_ids[0]]
    seen: dict[UUID, set[UUID]] = {}

    async def look_around(session: AsyncSession, event: OutboxEvent) -> None:
        everything = select(OutboxEvent.workspace_id).distinct()
        seen[event.workspace_id] = set((await session.scalars(everything)).all())

    event_type = f"test.look_around.{uuid4().hex[:8]}"
    subscribe(event_type, look_around)
    for workspace in workspaces:
        async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
            bind_actor(s, Actor.system())
            await emit(s, workspace, event_type, {})
    await background.relay.relay_once()

    async def all_handled() -> bool:
        return len(seen) == len(workspaces)

    await eventually(all_handled)
    assert seen == {workspace: {workspace} for workspace in workspaces}
