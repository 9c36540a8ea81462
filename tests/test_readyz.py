"""/readyz proves what it claims: red while the process cannot serve, green again when it can.

The database is reached through a TCP proxy that takes it down and brings it back; a
connection that fell back to the login role counts as down; a configured broker
that does not answer (a closed port, a proxy taken down) counts as down too.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.conftest import make_database
from tests.fixtures.databases import (
    TestDatabase,
    configured_broker_url,
    is_postgres_run,
    real_broker_url,
    unreachable,
)
from tests.fixtures.proxy import TcpProxy

# A pool renewed after a cut serves the probe after the first failure; a few more
# probes leave room for a slow machine, and are counted, not timed.
PROBES_TO_RECOVER = 10
postgres_only = pytest.mark.skipif(not is_postgres_run(), reason="needs a Postgres server")


@asynccontextmanager
async def client_for(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, database=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _probe_until(http: httpx.AsyncClient, status: int) -> list[int]:
    seen = []
    for _ in range(PROBES_TO_RECOVER):
        response = await http.get("/readyz")
        assert response.headers["content-type"].startswith("application/json")
        seen.append(response.status_code)
        if response.status_code == status:
            return seen
        await asyncio.sleep(0.05)
    return seen


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def redis_url() -> str:
    """The run's Redis (its own database number), else the shared test one."""
    configured = configured_broker_url()
    return configured if configured.startswith("redis://") else real_broker_url("redis")


@contextmanager
def redis_behind_proxy() -> Iterator[tuple[TcpProxy, str]]:
    """A proxy to the test Redis, and the broker URL that goes through it."""
    url = urlsplit(redis_url())
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        unreachable("Redis", error)
    with TcpProxy(host, port) as proxy:
        yield proxy, urlunsplit(url._replace(netloc=f"127.0.0.1:{proxy.port}"))


@postgres_only
async def test_readyz_is_red_while_the_database_is_cut_and_green_after(
    test_database: TestDatabase, settings: Settings
) -> None:
    url = make_url(test_database.app_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        db = make_database(replace(test_database, app_url=through))
        try:
            async with client_for(settings, db) as http:
                green = await http.get("/readyz")
                assert green.status_code == 200, green.text
                assert green.json() == {"status": "ok", "database": "ok", "broker": "in process"}

                proxy.down()
                for _ in range(3):  # the cut pool, then refused connections: red each time
                    red = await http.get("/readyz")
                    assert red.status_code == 503, red.text
                    assert red.json()["database"] == "unavailable"
                    assert red.json()["status"] == "unavailable"

                proxy.up()
                seen = await _probe_until(http, 200)
                assert seen[-1] == 200, seen
        finally:
            await db.dispose()


@postgres_only
async def test_readyz_is_red_on_a_connection_that_lost_the_application_role(
    test_database: TestDatabase, settings: Settings
) -> None:
    """The role lost (as a rolled-back switch once did) is no false green."""
    db = make_database(test_database, pool_size=1, max_overflow=0)
    try:
        async with client_for(settings, db) as http:
            assert (await http.get("/readyz")).status_code == 200
            async with db.engine.connect() as connection:
                await connection.execute(text("reset role"))
                await connection.commit()
            red = await http.get("/readyz")
        assert red.status_code == 503, red.text
        assert red.json()["database"] == "not the application role"
    finally:
        await db.dispose()


async def test_readyz_is_red_when_the_configured_broker_is_unreachable(
    settings: Settings, database: Database
) -> None:
    for url in (f"redis://127.0.0.1:{closed_port()}/0", f"amqp://127.0.0.1:{closed_port()}/"):
        unreachable_broker = settings.model_copy(update={"broker_url": url})
        async with client_for(unreachable_broker, database) as http:
            response = await http.get("/readyz")
        assert response.status_code == 503, (url, response.text)
        assert response.json() == {
            "status": "unavailable",
            "database": "ok",
            "broker": "unavailable",
        }
        assert "127.0.0.1" not in response.text


async def test_readyz_follows_the_redis_broker_down_and_up(
    settings: Settings, database: Database
) -> None:
    with redis_behind_proxy() as (proxy, url):
        through = settings.model_copy(update={"broker_url": url})
        async with client_for(through, database) as http:
            green = await http.get("/readyz")
            assert green.status_code == 200, green.text
            assert green.json()["broker"] == "ok"
            proxy.down()
            red = await http.get("/readyz")
            assert red.status_code == 503, red.text
            assert red.json()["broker"] == "unavailable"
            proxy.up()
            seen = await _probe_until(http, 200)
            assert seen[-1] == 200, seen
