"""A feedback list's totalCount as Postgres writes it: the count the triggers keep
(migration 0029) rather than a count of the rows. It must be the workspace's own items,
exactly, after every way items come and go: batches with duplicates sent at once, ORM
inserts, deletes; never another workspace's, and the kept counts are read under the
same row-level security as the rows."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import Feedback
from backend.settings import Settings
from backend.vocabulary.feedback import MeasureKind
from graphql_schema import engine
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.planned import answer, ordinary_and_planned
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_many, build_world

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="Postgres keeps the counts")

LIST = """query L($id: ID!, $source: FeedbackSource) { workspace(id: $id) {
  feedback(first: 100, source: $source) { totalCount edges { node { id } } } } }"""

CREATE = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Totals"}) { token } }"""


async def _ingest(client: httpx.AsyncClient, token: str, items: list[dict[str, Any]]) -> None:
    sent = await client.post(
        "/ingest/v1/feedback", json=items, headers={"authorization": f"Bearer {token}"}
    )
    assert sent.status_code == 200, sent.text


async def _ids(owner: AsyncEngine, workspace_id: UUID, source: str | None = None) -> set[UUID]:
    rows = select(Feedback.id).where(Feedback.workspace_id == workspace_id)
    if source is not None:
        rows = rows.where(Feedback.source == source)
    async with owner.connect() as conn:
        return set((await conn.execute(rows)).scalars())


def _page(body: str) -> Any:
    return json.loads(body)["data"]["workspace"]["feedback"]


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
    created = await gql(CREATE, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    token = created["data"]["createIngestionToken"]["token"]
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
            # Unfiltered, the kept count; filtered by source, the rows counted.
            kept = any("feedback_counts" in s for s in sql_statements)
            assert kept is (source is None), sql_statements
        listed = {e["node"]["id"] for e in _page(ordinary)["edges"]}
        assert len(listed) == len(expected)  # every one of them, and no other workspace's

        sibling_page = _page(
            await answer(clients[True], LIST, {"id": tenant_a.ws_gid(1)}, tenant_a.token)
        )
        assert sibling_page["totalCount"] == 6
        other = await answer(clients[True], LIST, {"id": tenant_a.ws_gid(0)}, tenant_b.token)
        assert json.loads(other)["data"] == {"workspace": None}


async def test_the_kept_counts_are_read_under_row_level_security(
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
        seen = (await connection.execute(text("SELECT id, items FROM feedback_counts"))).all()
    assert [tuple(row) for row in seen] == [(own, 2)]


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
