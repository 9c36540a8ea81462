"""Who may read a cached map, and what each read costs.

A bearer token seen before is checked, its owner's access read afresh and the map's
stamp read in one transaction. Everything that takes a caller's access away must
show in that very next read; concurrent misses read the map once; and no more reads
are in flight per process than the pool keeps connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, truncate_all
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest, seed_tenant
from tests.health.worlds import build_world

MAP = """query MapRead($id: ID!) { journeyMap(id: $id) { id title version
  stages { name touchpoints { id name painPoints { title severity }
    health { score sampleSize } } } } }"""

REMOVE_MEMBER = """mutation($input: RemoveWorkspaceMemberInput!) {
  removeWorkspaceMember(input: $input) { errors { code } } }"""


@pytest.fixture
def transactions(database: Database) -> Iterator[list[str]]:
    """One entry per transaction the app's engine begins, with its statements."""
    begun: list[list[str]] = []

    def began(_conn: Any) -> None:
        begun.append([])

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if begun:
            begun[-1].append(statement)

    event.listen(database.engine.sync_engine, "begin", began)
    event.listen(database.engine.sync_engine, "before_cursor_execute", executed)
    yield begun  # type: ignore[misc]
    event.remove(database.engine.sync_engine, "begin", began)
    event.remove(database.engine.sync_engine, "before_cursor_execute", executed)


async def _map(database: Database, tenant: Tenant) -> dict[str, str]:
    world = await build_world(database, tenant.workspace_ids[0], stages=2)
    return {"id": global_id("JourneyMap", world.map_id)}


async def test_a_known_token_reads_a_cached_map_in_one_transaction(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, transactions: list[list[str]]
) -> None:
    variables = await _map(database, tenant_a)
    first = await gql(MAP, variables, token=tenant_a.token)  # reads the map, knows the token
    await gql(MAP, variables, token=tenant_a.token)
    transactions.clear()

    again = await gql(MAP, variables, token=tenant_a.token)

    assert again == first
    assert len(transactions) == 1, transactions
    (statements,) = transactions
    reads = [s for s in statements if "set_config" not in s and not s.startswith("BEGIN")]
    assert len(reads) == 2, reads  # the token with the owner's grants, the map's stamp
    assert "api_tokens" in reads[0]
    assert "organization_memberships" in reads[0]
    assert "health_generations" in reads[1]


async def _read_after(
    gql: GraphQLClient,
    database: Database,
    tenant: Tenant,
    inspector_engine: AsyncEngine,
    change: str,
) -> dict[str, Any]:
    """Read a map twice (the token becomes known), run ``change`` behind the app, read again."""
    variables = await _map(database, tenant)
    for _ in range(2):
        await gql(MAP, variables, token=tenant.token)
    async with inspector_engine.begin() as connection:
        await connection.execute(text(change))
    return await gql(MAP, variables, token=tenant.token, expect_errors=True)


async def test_a_revoked_token_is_refused_at_its_next_read(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    revoke = "update api_tokens set revoked_at = current_timestamp"
    refused = await _read_after(gql, database, tenant_a, inspector_engine, revoke)

    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in refused  # refused before anything ran


async def test_a_deactivated_user_is_refused_at_the_next_read(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    refused = await _read_after(
        gql, database, tenant_a, inspector_engine, "update users set is_active = false"
    )

    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_removed_member_no_longer_reads_the_map(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    variables = await _map(database, tenant_a)
    workspace = tenant_a.workspace_ids[0]
    guest_id, guest_token = await add_guest(
        database, workspace, "guest@example.com", WorkspaceRole.VIEWER
    )
    for _ in range(2):
        seen = await gql(MAP, variables, token=guest_token)
        assert seen["data"]["journeyMap"]["id"] == variables["id"]

    removed = await gql(
        REMOVE_MEMBER,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "userId": global_id("User", guest_id)}},
        token=tenant_a.token,
    )
    assert removed["data"]["removeWorkspaceMember"]["errors"] == []

    assert (await gql(MAP, variables, token=guest_token))["data"]["journeyMap"] is None
    # The owner still reads it, from the cache the guest filled.
    assert (await gql(MAP, variables, token=tenant_a.token))["data"]["journeyMap"] is not None


async def test_a_token_of_another_tenant_known_to_the_process_sees_nothing(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    variables = await _map(database, tenant_a)
    other = await _map(database, tenant_b)
    for _ in range(2):  # tenant b's token becomes known, its binding guessed
        await gql(MAP, other, token=tenant_b.token)
        await gql(MAP, variables, token=tenant_a.token)

    assert (await gql(MAP, variables, token=tenant_b.token))["data"]["journeyMap"] is None


async def test_concurrent_misses_read_the_map_once(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    variables = await _map(database, tenant_a)
    await gql("{ viewer { user { email } } }", token=tenant_a.token)
    sql_statements.clear()

    answers = await asyncio.gather(*(gql(MAP, variables, token=tenant_a.token) for _ in range(6)))

    assert all(a == answers[0] for a in answers)
    touchpoint_reads = [s for s in sql_statements if "FROM touchpoints" in s]
    assert len(touchpoint_reads) == 1, touchpoint_reads


@pytest_asyncio.fixture(loop_scope="session")
async def pool_of_two(
    test_database: TestDatabase, inspector_engine: AsyncEngine
) -> AsyncIterator[tuple[Database, Settings]]:
    db = make_database(test_database, pool_size=2)
    settings = Settings(database_url=test_database.app_url, database_pool_size=2)
    yield db, settings
    await db.dispose()
    await truncate_all(inspector_engine)


async def test_no_more_reads_are_in_flight_than_the_pool_keeps_connections(
    pool_of_two: tuple[Database, Settings],
) -> None:
    db, settings = pool_of_two
    tenant = await seed_tenant(db, "pooled")
    variables = await _map(db, tenant)
    in_use = 0
    most = 0

    def checked_out(*_args: Any) -> None:
        nonlocal in_use, most
        in_use += 1
        most = max(most, in_use)

    def checked_in(*_args: Any) -> None:
        nonlocal in_use
        in_use -= 1

    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        gql = GraphQLClient(http)
        await gql(MAP, variables, token=tenant.token)
        event.listen(db.engine.sync_engine, "checkout", checked_out)
        event.listen(db.engine.sync_engine, "checkin", checked_in)
        try:
            answers = await asyncio.gather(
                *(gql(MAP, variables, token=tenant.token) for _ in range(12))
            )
        finally:
            event.remove(db.engine.sync_engine, "checkout", checked_out)
            event.remove(db.engine.sync_engine, "checkin", checked_in)

    assert all(a["data"]["journeyMap"]["id"] == variables["id"] for a in answers)
    assert most <= 2
