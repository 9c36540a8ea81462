"""A request's batched reads share one transaction (backend/db/shared_reads.py), and
sharing it changes nothing a caller can see: writes in the same document show in the
reads after them, a failed statement spoils nothing after it, and the binding asked for
is the binding read under."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend.auth.service import authenticate_token
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.db.lookup import ScopedRows
from backend.db.scoping import (
    SECRET_HASH_SETTING,
    USER_ID_SETTING,
    WORKSPACE_IDS_SETTING,
    TenantBinding,
)
from backend.db.shared_reads import SharedReads
from backend.models import JourneyMap
from backend.settings import Settings
from backend.vocabulary.journeys import Severity
from graphql_schema.dataloaders import Loaders
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.planned import ordinary_and_planned
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_pain, build_world

MAP = """query M($id: ID!) { journeyMap(id: $id) { title stages { name
  touchpoints { name painPoints { title } opportunities { title } health { score } } } } }"""
TWO_RENAMES = """mutation R($a: ID!, $b: ID!) {
  first: updateTouchpoint(input: {id: $a, name: "First renamed"}) {
    journeyMap { version stages { touchpoints { name } } } errors { code } }
  second: updateTouchpoint(input: {id: $b, name: "Second renamed"}) {
    journeyMap { version stages { touchpoints { name } } } errors { code } } }"""


async def _ask(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    return await GraphQLClient(client)(query, variables, token=token, expect_errors=True)


async def _access(database: Database, tenant: Tenant) -> Access:
    principal = await authenticate_token(database, tenant.token)
    assert principal is not None
    return await load_access(database, principal)


@pytest.mark.parametrize("planned", [True, False], ids=["planned", "ordinary"])
async def test_a_nested_map_read_runs_its_batches_in_one_transaction(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    transactions: list[int],
    planned: bool,
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=3)
    await add_pain(database, world, world.touchpoint_ids[0], Severity.HIGH, title="Queue")
    map_id = global_id("JourneyMap", world.map_id)
    async with ordinary_and_planned(settings, database) as clients:
        await _ask(clients[planned], tenant_a.token, MAP, id=map_id)  # the token is known now
        before = transactions[0]
        answer = await _ask(clients[planned], tenant_a.token, MAP, id=map_id)
    assert "errors" not in answer, answer
    assert "Queue" in str(answer)
    # The token with its grants, then the map, stages, touchpoints, pain points,
    # opportunities and health in one (each batch had a transaction of its own before).
    # On Postgres the sign-in's transaction is the reads' own, bound again for them.
    assert transactions[0] - before == (1 if database.dialect == "postgresql" else 2)


async def test_reads_after_a_write_in_the_same_document_see_it(
    client: httpx.AsyncClient, database: Database, tenant_a: Tenant
) -> None:
    """The first payload's reads open the shared transaction; the second mutation writes
    after it. SQLite keeps a read transaction's snapshot, so the second payload read on
    the same transaction would show the map before the second rename."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    a, b = (global_id("Touchpoint", t) for t in world.touchpoint_ids[:2])

    answer = await _ask(client, tenant_a.token, TWO_RENAMES, a=a, b=b)

    first, second = answer["data"]["first"], answer["data"]["second"]
    assert first["errors"] == second["errors"] == [], answer
    names = [t["name"] for s in second["journeyMap"]["stages"] for t in s["touchpoints"]]
    assert {"First renamed", "Second renamed"} <= set(names), answer
    assert second["journeyMap"]["version"] == first["journeyMap"]["version"] + 1


async def test_a_failed_statement_spoils_no_batch_after_it(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    reads = SharedReads(database)
    binding = world.binding()
    with pytest.raises(DBAPIError):
        async with reads.connection(binding) as connection:
            await connection.execute(text("select * from no_such_table"))
    # On Postgres the failed statement aborted the transaction: a batch on it would be
    # refused ("current transaction is aborted") were it not ended.
    async with reads.connection(binding) as connection:
        maps = await ScopedRows(connection, binding).select(JourneyMap)
    await reads.close()
    assert [m.id for m in maps] == [world.map_id]
    assert reads.transactions == 2


async def test_each_batch_reads_under_the_binding_it_asks_for(
    database: Database, tenant_a: Tenant
) -> None:
    first = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    second = await build_world(database, tenant_a.workspace_ids[1], stages=1)
    reads = SharedReads(database)
    seen = []
    for world in (first, second, first):
        async with reads.connection(world.binding()) as connection:
            rows = await ScopedRows(connection, world.binding()).select(JourneyMap)
            seen.append({m.id for m in rows})
            if database.dialect == "postgresql":  # what row-level security reads
                bound = await connection.scalar(
                    text("select current_setting('waypost.workspace_ids')")
                )
                assert bound == str(world.workspace_id)
    await reads.close()
    assert seen == [{first.map_id}, {second.map_id}, {first.map_id}]
    # Postgres binds the open transaction again; SQLite's would keep its snapshot.
    assert reads.transactions == (1 if database.dialect == "postgresql" else 3)


async def test_binding_again_leaves_nothing_of_the_sign_in_bound(
    database: Database, tenant_a: Tenant
) -> None:
    """The sign-in binds its owner and the token's hash (the own-rows policies); the
    reads after it, on the same transaction, must see neither."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    reads = SharedReads(database)
    sign_in = TenantBinding(user_id=tenant_a.owner_id, secret_hash="a-token-hash")
    settings = (USER_ID_SETTING, SECRET_HASH_SETTING, WORKSPACE_IDS_SETTING)
    seen = []
    for binding in (sign_in, world.binding()):
        async with reads.connection(binding) as connection:
            if database.dialect == "postgresql":
                values = [
                    await connection.scalar(text(f"select current_setting('{name}')"))
                    for name in settings
                ]
                seen.append(values)
            maps = await ScopedRows(connection, binding).select(JourneyMap)
    await reads.close()
    assert [m.id for m in maps] == [world.map_id]
    if database.dialect == "postgresql":
        assert seen == [
            [str(tenant_a.owner_id), "a-token-hash", ""],
            ["", "", str(world.workspace_id)],
        ]
        assert reads.transactions == 1


async def test_a_batch_cannot_wait_on_another_loader(database: Database, tenant_a: Tenant) -> None:
    """A batch awaiting another loader while it holds the shared transaction would wait
    for itself; it is refused at once instead of hanging the request."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    reads = SharedReads(database)
    loaders = Loaders(reads, await _access(database, tenant_a))
    async with reads.connection(world.binding()):
        with pytest.raises(RuntimeError, match="must not load"):
            await asyncio.wait_for(loaders.journeys.journey_map_by_id.load(world.map_id), 5)
        with pytest.raises(RuntimeError, match="must not load"):
            await asyncio.wait_for(loaders.journeys.journey_map_by_id.load_many([world.map_id]), 5)
    assert await loaders.journeys.journey_map_by_id.load(world.map_id) is not None
    await reads.close()


async def test_one_load_many_is_one_batch_and_survives_an_awaiter_cancelled(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=2)
    reads = SharedReads(database)
    loaders = Loaders(reads, await _access(database, tenant_a)).journeys
    keys = world.touchpoint_ids
    cancelled = asyncio.ensure_future(loaders.pain_points_by_touchpoint.load_many(keys))
    kept = asyncio.ensure_future(loaders.pain_points_by_touchpoint.load_many(keys[::-1]))
    await asyncio.sleep(0)
    cancelled.cancel()
    found = await kept
    await reads.close()
    assert found == [[] for _ in keys]
    assert cancelled.cancelled()
    selects = [s for s in sql_statements if "FROM pain_points" in s]
    assert len(selects) == 1, selects
