"""The application role holds on every pooled connection, whatever its transactions did.

The app logs in as ``waypost_api`` (NOINHERIT: no rights of its own) and switches to
``waypost_app``. The switch must outlive a rolled-back transaction: a connection whose
first transaction rolls back (a readiness probe, a mutation answering a user error)
must not fall back to the login role and answer "permission denied" from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.tenants import Tenant

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="roles exist only on Postgres")

APP_ROLE = "waypost_app"
VIEWER = "{ viewer { user { email } workspaces { totalCount } } }"
# An empty name is the caller's mistake: a UserError, and the transaction rolls back.
BAD_WORKSPACE = (
    'mutation($o: ID!) { createWorkspace(input: {organizationId: $o, name: ""}) '
    "{ workspace { id } errors { code } } }"
)


@pytest_asyncio.fixture(loop_scope="session")
async def one_connection(test_database: TestDatabase) -> AsyncIterator[Database]:
    """A pool of exactly one connection: every request reuses the same one."""
    db = make_database(test_database, pool_size=1, max_overflow=0)
    yield db
    await db.dispose()


async def _current_user(db: Database) -> str:
    async with db.transaction(NO_TENANT) as session:
        user: str = (await session.execute(text("select current_user"))).scalar_one()
    return user


async def _viewer(http: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {tenant.token}"}
    )


def _assert_read(response: httpx.Response, tenant: Tenant) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["viewer"]["user"]["email"] == tenant.owner_email


async def _roll_back_by_readyz(http: httpx.AsyncClient, _tenant: Tenant) -> None:
    assert (await http.get("/readyz")).status_code == 200


async def _roll_back_by_user_error(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.post(
        "/graphql",
        json={"query": BAD_WORKSPACE, "variables": {"o": tenant.org_gid}},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    payload = response.json()["data"]["createWorkspace"]
    assert payload["workspace"] is None, payload
    assert payload["errors"], payload


@pytest.mark.parametrize("roll_back", [_roll_back_by_readyz, _roll_back_by_user_error])
async def test_the_role_survives_a_first_transaction_that_rolls_back(
    one_connection: Database,
    database: Database,
    settings: Settings,
    tenant_a: Tenant,
    roll_back: object,
) -> None:
    app = create_app(settings, database=one_connection)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await roll_back(http, tenant_a)  # type: ignore[operator]
        for _ in range(3):
            _assert_read(await _viewer(http, tenant_a), tenant_a)
    assert await _current_user(one_connection) == APP_ROLE


async def test_a_raw_rollback_keeps_the_role(one_connection: Database) -> None:
    """The first statement of a fresh connection, then a rollback: still the app role."""
    async with one_connection.engine.connect() as connection:
        await connection.execute(text("select 1"))
        await connection.rollback()
    assert await _current_user(one_connection) == APP_ROLE
    async with one_connection.transaction(NO_TENANT) as session:
        await session.execute(text("select count(*) from api_tokens"))


async def test_concurrent_readiness_probes_leave_every_connection_usable(
    test_database: TestDatabase, database: Database, settings: Settings, tenant_a: Tenant
) -> None:
    fresh = make_database(test_database)  # every probe opens a connection of its own
    try:
        app = create_app(settings, database=fresh)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            probes = await asyncio.gather(*(http.get("/readyz") for _ in range(12)))
            assert [p.status_code for p in probes] == [200] * 12, [p.text for p in probes]
            reads = await asyncio.gather(*(_viewer(http, tenant_a) for _ in range(60)))
        for response in reads:
            _assert_read(response, tenant_a)
        users = await asyncio.gather(*(_current_user(fresh) for _ in range(12)))
        assert set(users) == {APP_ROLE}
    finally:
        await fresh.dispose()
