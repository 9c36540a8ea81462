"""The connection pool: a connection the server dropped while idle is replaced, not used.

The pool pings only connections idle longer than ``IDLE_BEFORE_PING`` (a busy pool
skips the round trip); these tests drop the server side of every pooled connection,
as a Postgres restart or an idle timeout would, and check what the next caller sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db import engine as engine_module
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, is_postgres_run

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="needs a Postgres server")


@pytest_asyncio.fixture(loop_scope="session")
async def pool_of_two(test_database: TestDatabase) -> AsyncIterator[Database]:
    db = make_database(test_database, pool_size=2)
    yield db
    await db.dispose()


async def _backend_pids(db: Database) -> set[int]:
    """Open both pooled connections at once and return their server process ids."""
    async with db.engine.connect() as first, db.engine.connect() as second:
        return {
            (await first.execute(text("select pg_backend_pid()"))).scalar_one(),
            (await second.execute(text("select pg_backend_pid()"))).scalar_one(),
        }


async def _terminate(inspector_engine: AsyncEngine, pids: set[int]) -> None:
    async with inspector_engine.connect() as connection:
        for pid in pids:
            await connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})


async def test_an_idle_connection_the_server_dropped_is_replaced(
    pool_of_two: Database, inspector_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = await _backend_pids(pool_of_two)
    await _terminate(inspector_engine, dropped)
    monkeypatch.setattr(engine_module, "IDLE_BEFORE_PING", 0.0)

    async with pool_of_two.connection(NO_TENANT) as connection:
        pid = (await connection.execute(text("select pg_backend_pid()"))).scalar_one()

    assert pid not in dropped


async def test_a_busy_connection_is_not_pinged(
    pool_of_two: Database, inspector_engine: AsyncEngine
) -> None:
    """Within the idle window there is no ping, so a dropped connection surfaces once;
    this is the trade the pool makes for skipping a round trip per request."""
    dropped = await _backend_pids(pool_of_two)
    await _terminate(inspector_engine, dropped)

    with pytest.raises(DBAPIError):
        async with pool_of_two.connection(NO_TENANT) as connection:
            await connection.execute(text("select 1"))
    # SQLAlchemy renewed the pool on the disconnect: the next caller is served.
    async with pool_of_two.connection(NO_TENANT) as connection:
        assert (await connection.execute(text("select 1"))).scalar_one() == 1
