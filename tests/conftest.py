"""Shared fixtures: a migrated database, the ASGI app, a GraphQL client, tenants."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.entrypoints.migrate import upgrade
from backend.settings import DEFAULT_RATE_LIMITS, Environment, Settings
from tests.fixtures.counting import statements_sent
from tests.fixtures.databases import (
    APP_ROLE,
    TestDatabase,
    configured_url,
    create_postgres_database,
    sqlite_database,
    truncate_all,
    unreachable,
)
from tests.fixtures.dns_server import (  # noqa: F401 - fixtures
    LocalDnsServer,
    dns_server,
    dns_server_session,
    dns_settings,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.oidc_provider import oidc_provider  # noqa: F401 - fixture
from tests.fixtures.rogue_idp import rogue_idp, rogue_idp_server  # noqa: F401 - fixtures
from tests.fixtures.tenants import Tenant, seed_tenant

# Tests send hundreds of requests a minute from one address, often with one token:
# generous limits for every app (and `waypost serve`) the suite starts, unless the
# environment says otherwise. tests/test_ratelimit.py sets tight ones.
os.environ.setdefault(
    "WAYPOST_RATE_LIMITS", json.dumps(dict.fromkeys(DEFAULT_RATE_LIMITS, "100000/minute"))
)
LOOPBACK_IDPS = ("127.0.0.1",)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def test_database() -> TestDatabase:
    url = configured_url()
    if url is None:
        db = sqlite_database()
        await asyncio.to_thread(upgrade, db.owner_url)
        return db
    superuser_url = make_url(url)
    try:
        db = await create_postgres_database(superuser_url, superuser_url.database or "waypost_test")
    except OSError as error:
        unreachable("PostgreSQL", error)
    # As production does: the tables' owner migrates, not the superuser.
    await asyncio.to_thread(upgrade, db.owner_url)
    return db


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def inspector_engine(test_database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    """A superuser, for the test side only: looking behind the application (row-level
    security hides rows from everyone else, the tables' owner included) and cleaning up."""
    engine = create_async_engine(test_database.inspector_url)
    yield engine
    await engine.dispose()


def make_database(test_database: TestDatabase, **options: Any) -> Database:
    app_role = APP_ROLE if test_database.is_postgres else None
    return Database(test_database.app_url, app_role=app_role, **options)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_database(test_database: TestDatabase) -> AsyncIterator[Database]:
    db = make_database(test_database)
    yield db
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def database(
    shared_database: Database, inspector_engine: AsyncEngine
) -> AsyncIterator[Database]:
    """The application's database; every table is emptied after the test."""
    yield shared_database
    await truncate_all(inspector_engine)


@pytest.fixture
def settings(
    test_database: TestDatabase,
    dns_server_session: LocalDnsServer,  # noqa: F811 - the fixture, imported above
) -> Settings:
    # Every app of the suite resolves names through the loopback DNS server, so domain
    # verification runs as in production, against records the tests publish; the test
    # identity providers run on loopback, which outbound fetches refuse unless allowed.
    return dns_server_session.settings(
        Settings(
            env=Environment.TEST, database_url=test_database.app_url, outbound_allow=LOOPBACK_IDPS
        )
    )


@pytest_asyncio.fixture(loop_scope="session")
async def client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


@pytest_asyncio.fixture(loop_scope="session")
async def tenant_a(database: Database) -> Tenant:
    return await seed_tenant(database, "alpha")


@pytest_asyncio.fixture(loop_scope="session")
async def tenant_b(database: Database) -> Tenant:
    return await seed_tenant(database, "bravo")


@pytest.fixture
def sql_statements(database: Database) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the test runs."""
    with statements_sent(database) as seen:
        yield seen


@pytest.fixture
def transactions(database: Database) -> Iterator[list[int]]:
    """How many transactions the app's engine began while the test ran."""
    begun = [0]

    def count(*_: Any) -> None:
        begun[0] += 1

    event.listen(database.engine.sync_engine, "begin", count)
    yield begun
    event.remove(database.engine.sync_engine, "begin", count)
