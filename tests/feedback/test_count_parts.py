"""A feedback list's totalCount as Postgres writes it: the sum of the count parts the
triggers add (migration 0029) rather than a count of the rows.

It must be the workspace's own items, exactly, after every way items come and go
(batches with duplicates sent at once, ORM inserts, deletes, folds); never another
workspace's; read under the same row-level security as the rows. And keeping it must
never make one writer wait for another: the single count row tried first did, and the
file import's batches deadlocked on it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.feedback.repository.count_parts import fold_count_parts
from backend.models import Feedback, Workspace
from backend.settings import Settings
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema import engine
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url, is_postgres_run
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.planned import answer, ordinary_and_planned
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import add_many, build_world
from workers.background import Background

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="Postgres keeps the counts")

LIST = """query L($id: ID!, $source: FeedbackSource) { workspace(id: $id) {
  feedback(first: 100, source: $source) { totalCount edges { node { id } } } } }"""

CREATE = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Totals"}) { token } }"""

PARTS = text("SELECT items FROM feedback_count_parts WHERE workspace_id = :ws ORDER BY items")


async def _ingest(client: httpx.AsyncClient, token: str, items: list[dict[str, Any]]) -> None:
    sent = await client.post(
        "/ingest/v1/feedback", json=items, headers={"authorization": f"Bearer {token}"}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["rejected"] == 0, sent.text


async def _ingestion_token(gql: GraphQLClient, tenant: Tenant) -> str:
    created = await gql(CREATE, {"ws": tenant.ws_gid(0)}, token=tenant.token)
    return str(created["data"]["createIngestionToken"]["token"])


async def _ids(owner: AsyncEngine, workspace_id: UUID, source: str | None = None) -> set[UUID]:
    rows = select(Feedback.id).where(Feedback.workspace_id == workspace_id)
    if source is not None:
        rows = rows.where(Feedback.source == source)
    async with owner.connect() as conn:
        return set((await conn.execute(rows)).scalars())


async def _parts(owner: AsyncEngine, workspace_id: UUID) -> list[int]:
    async with owner.connect() as conn:
        return list((await conn.execute(PARTS, {"ws": workspace_id})).scalars())


def _page(body: str) -> Any:
    return json.loads(body)["data"]["workspace"]["feedback"]


def _items(workspace_id: UUID, n: int) -> list[Feedback]:
    now = datetime.now(UTC)
    return [
        Feedback(
            workspace_id=workspace_id,
            source=FeedbackSource.SURVEY,
            external_id=f"part-{uuid4()}",
            measure=MeasureKind.CSAT,
            measure_value=4,
            occurred_at=now,
        )
        for _ in range(n)
    ]


async def _insert(session: AsyncSession, workspace_id: UUID, n: int) -> None:
    session.add_all(_items(workspace_id, n))
    await session.flush()


async def _planned_total(settings: Settings, database: Database, tenant: Tenant) -> int:
    async with ordinary_and_planned(settings, database) as clients:
        variables = {"id": tenant.ws_gid(0)}
        ordinary = _page(await answer(clients[False], LIST, variables, tenant.token))
        planned = _page(await answer(clients[True], LIST, variables, tenant.token))
    assert planned["totalCount"] == ordinary["totalCount"]
    return int(planned["totalCount"])


async def test_a_lists_total_is_its_own_workspaces_items_exactly(
    settings: Settings,
    database: Database,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    inspector_engine: AsyncEngine,
    sql_statements: list[str],
) -> None:
    own, sibling = tenant_a.workspace_ids[0], tenant_a.workspace_ids[1]
    token = await _ingestion_token(gql, tenant_a)
    items = [
        {"source": "SURVEY", "externalId": f"s{n}", "measure": "NPS", "measureValue": n % 11}
        for n in range(40)
    ]
    # The same 40 sent four times at once: each stored, and counted, once.
    await asyncio.gather(*(_ingest(client, token, items) for _ in range(4)))
    now = datetime.now(UTC)
    answers = [(MeasureKind.CSAT, 4)] * 6
    for workspace_id in (own, sibling, tenant_b.workspace_ids[0]):
        world = await build_world(database, workspace_id, stages=1)
        await add_many(database, world, world.touchpoint_ids[0], answers, occurred_at=now)
    gone = sorted(await _ids(inspector_engine, own))[:5]
    async with database.transaction(TenantBinding(frozenset({own})), write=True) as session:
        await session.execute(delete(Feedback).where(Feedback.id.in_(gone)))

    expected = await _ids(inspector_engine, own)
    assert len(expected) == 40 + 6 - 5
    assert sum(await _parts(inspector_engine, own)) == len(expected)
    async with ordinary_and_planned(settings, database) as clients:
        surveys = len(await _ids(inspector_engine, own, "SURVEY"))
        for source, total in ((None, len(expected)), ("SURVEY", surveys)):
            variables = {"id": tenant_a.ws_gid(0), "source": source}
            ordinary = await answer(clients[False], LIST, variables, tenant_a.token)
            written = engine.COUNTS["written by postgres"]
            sql_statements.clear()
            planned = await answer(clients[True], LIST, variables, tenant_a.token)
            assert engine.COUNTS["written by postgres"] == written + 1
            assert planned == ordinary
            page = _page(planned)
            assert page["totalCount"] == total
            # Unfiltered, the kept parts; filtered by source, the rows counted.
            kept = any("feedback_count_parts" in s for s in sql_statements)
            assert kept is (source is None), sql_statements
        listed = {e["node"]["id"] for e in _page(ordinary)["edges"]}
        assert len(listed) == len(expected)  # every one of them, and no other workspace's

        sibling_page = _page(
            await answer(clients[True], LIST, {"id": tenant_a.ws_gid(1)}, tenant_a.token)
        )
        assert sibling_page["totalCount"] == 6
        other = await answer(clients[True], LIST, {"id": tenant_a.ws_gid(0)}, tenant_b.token)
        assert json.loads(other)["data"] == {"workspace": None}


async def test_two_writers_into_one_workspace_never_wait_for_each_other(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """The file import's shape: a later batch commits while an earlier one is still open.
    With one count row a workspace the second insert waited for the first's lock."""
    own = tenant_a.workspace_ids[0]
    binding = TenantBinding(frozenset({own}))
    async with database.transaction(binding, write=True) as first:
        await _insert(first, own, 3)
        for n in (2, 1):
            async with database.transaction(binding, write=True) as later:
                await later.execute(text("SET LOCAL lock_timeout = '2s'"))
                await _insert(later, own, n)
        # The later ones committed while the first is open: their items are counted.
        assert await _planned_total(settings, database, tenant_a) == 3
        # A fold does not wait for the open writer either, and leaves its part alone.
        async with database.transaction(binding, write=True) as folding:
            await folding.execute(text("SET LOCAL lock_timeout = '2s'"))
            await fold_count_parts(folding, own)
        assert await _parts(inspector_engine, own) == [3]
    assert await _parts(inspector_engine, own) == [3, 3]
    assert await _planned_total(settings, database, tenant_a) == 6


async def test_a_fold_keeps_the_total_and_leaves_one_part(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    own = tenant_a.workspace_ids[0]
    binding = TenantBinding(frozenset({own}))
    for n in (1, 4, 2, 7):
        async with database.transaction(binding, write=True) as session:
            await _insert(session, own, n)
    async with database.transaction(binding, write=True) as session:
        await session.execute(
            delete(Feedback).where(Feedback.id.in_(sorted(await _ids(inspector_engine, own))[:3]))
        )
    assert sorted(await _parts(inspector_engine, own)) == [-3, 1, 2, 4, 7]

    # Two folds at once: the one that comes second finds the rows taken and skips them.
    async with database.transaction(binding, write=True) as one:
        await fold_count_parts(one, own)
        async with database.transaction(binding, write=True) as two:
            await two.execute(text("SET LOCAL lock_timeout = '2s'"))
            await fold_count_parts(two, own)
        assert sorted(await _parts(inspector_engine, own)) == [-3, 1, 2, 4, 7]
    assert await _parts(inspector_engine, own) == [11]
    assert await _planned_total(settings, database, tenant_a) == 11

    # One part is left as it is; deleting everything leaves none.
    async with database.transaction(binding, write=True) as session:
        await fold_count_parts(session, own)
    assert await _parts(inspector_engine, own) == [11]
    async with database.transaction(binding, write=True) as session:
        await session.execute(delete(Feedback).where(Feedback.workspace_id == own))
        await fold_count_parts(session, own)
    assert await _parts(inspector_engine, own) == []
    assert await _planned_total(settings, database, tenant_a) == 0


@pytest_asyncio.fixture(loop_scope="session")
async def background(settings: Settings, database: Database) -> AsyncIterator[Background]:
    # Housekeeping every half second: handlers running at once each fold only the parts
    # the others did not take (SKIP LOCKED) and may leave a few; the schedule folds those.
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "audit_verify_interval_seconds": 0.5}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


async def test_the_workers_fold_what_ingestion_adds(
    settings: Settings,
    database: Database,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    background: Background,
) -> None:
    """Item by item, ingestion adds a part a request: the workers (the feedback.received
    handler, then the housekeeping) fold them into one, the total exact throughout."""
    own = tenant_a.workspace_ids[0]
    token = await _ingestion_token(gql, tenant_a)
    for n in range(12):
        item = {"source": "SURVEY", "externalId": f"one-{n}", "text": "Fine"}
        await _ingest(client, token, [item])

    async def folded() -> list[int] | None:
        parts = await _parts(inspector_engine, own)
        assert sum(parts) == 12  # a fold never changes the total, in any snapshot
        return parts if len(parts) == 1 else None

    assert await eventually(folded, within=30) == [12]
    assert await _planned_total(settings, database, tenant_a) == 12


async def test_the_counts_are_read_under_row_level_security(
    database: Database, tenant_a: Tenant
) -> None:
    now = datetime.now(UTC)
    for workspace_id in tenant_a.workspace_ids[:2]:
        world = await build_world(database, workspace_id, stages=1)
        await add_many(
            database, world, world.touchpoint_ids[0], [(MeasureKind.CSAT, 3)] * 2, occurred_at=now
        )
    own = tenant_a.workspace_ids[0]
    async with database.connection(TenantBinding(frozenset({own}))) as connection:
        seen = await connection.execute(
            text("SELECT workspace_id, items FROM feedback_count_parts")
        )
        assert [tuple(row) for row in seen] == [(own, 2)]
    # Nor can a part be added for a workspace the transaction is not bound to.
    other = tenant_a.workspace_ids[1]
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.transaction(TenantBinding(frozenset({own})), write=True) as session:
            await session.execute(
                text(
                    "INSERT INTO feedback_count_parts (workspace_id, id, items)"
                    " VALUES (:ws, gen_random_uuid(), 1000)"
                ),
                {"ws": other},
            )


async def test_feedback_never_moves_to_another_workspace(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """A move would leave both workspaces' counts wrong: refused, a superuser's too."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    now = datetime.now(UTC)
    await add_many(
        database, world, world.touchpoint_ids[0], [(MeasureKind.CSAT, 3)], occurred_at=now
    )
    moved = update(Feedback).values(workspace_id=tenant_a.workspace_ids[1])
    with pytest.raises(DBAPIError, match="does not move between workspaces"):
        async with inspector_engine.begin() as conn:
            await conn.execute(moved)


async def test_a_workspace_deleted_with_its_feedback_takes_its_parts_along(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    own = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({own})), write=True) as session:
        await _insert(session, own, 3)
    async with inspector_engine.begin() as conn:
        await conn.execute(delete(Workspace).where(Workspace.id == own))
    assert await _parts(inspector_engine, own) == []


async def test_the_hourly_housekeeping_folds_what_no_event_did(
    settings: Settings, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    """Inserts and deletes that raised no feedback.received event (a dead-lettered one,
    or a delete, which raises none) are folded by the schedule's housekeeping."""
    own = tenant_a.workspace_ids[0]
    binding = TenantBinding(frozenset({own}))
    for n in (2, 3, 4):
        async with database.transaction(binding, write=True) as session:
            await _insert(session, own, n)
    async with database.transaction(binding, write=True) as session:
        gone = sorted(await _ids(inspector_engine, own))[:1]
        await session.execute(delete(Feedback).where(Feedback.id.in_(gone)))
    assert sorted(await _parts(inspector_engine, own)) == [-1, 2, 3, 4]
    worker_settings = settings.model_copy(
        update={"broker_url": configured_broker_url(), "audit_verify_interval_seconds": 0.5}
    )
    async with Background(worker_settings, database, run_workers=True):

        async def folded() -> list[int] | None:
            parts = await _parts(inspector_engine, own)
            return parts if len(parts) == 1 else None

        assert await eventually(folded, within=30) == [8]
    assert await _planned_total(settings, database, tenant_a) == 8


async def test_a_guest_and_another_organizations_admin_read_no_other_workspaces_total(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The kept total is read in the caller's binding: a guest of one workspace and the
    admin of another organization get the other workspace as null, never its count."""
    own, other = tenant_a.workspace_ids[0], tenant_a.workspace_ids[1]
    for workspace_id, n in ((own, 2), (other, 5)):
        async with database.transaction(TenantBinding(frozenset({workspace_id})), write=True) as s:
            await _insert(s, workspace_id, n)
    _, guest = await add_guest(database, own, "guest@count.example", WorkspaceRole.ADMIN)
    async with ordinary_and_planned(settings, database) as clients:
        for planned in (False, True):
            mine = _page(await answer(clients[planned], LIST, {"id": tenant_a.ws_gid(0)}, guest))
            assert mine["totalCount"] == 2
            for token in (guest, tenant_b.token):
                seen = await answer(clients[planned], LIST, {"id": tenant_a.ws_gid(1)}, token)
                assert json.loads(seen)["data"] == {"workspace": None}
