"""Unexpected errors, whatever raised them, reach the client masked, and the connection lives on.

* A database that fails while the caller is being authenticated (a blip: the
  connections are cut) answers INTERNAL "Unexpected error." with the request id,
  never the driver's message with its SQL and parameters.
* A 500 leaves the keep-alive connection usable: the client's next request on the
  same socket is answered (uvicorn, a real socket).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from strawberry import relay

import backend.entrypoints.app
from backend.auth.tokens import hash_secret
from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Environment, Settings
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase
from tests.fixtures.proxy import TcpProxy
from tests.fixtures.settings import production_settings
from tests.fixtures.sockets import serve
from tests.fixtures.tenants import Tenant

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
VIEWER = "{ viewer { user { email } } }"
MAP_READ = "query($id: ID!) { journeyMap(id: $id) { title } }"
# What a driver's message carries: SQL, its parameters, class and module names.
LEAKS = (
    "select",
    "SELECT",
    "[SQL",
    "parameters",
    "set_config",
    "api_tokens",
    "sqlalchemy",
    "asyncpg",
    "sqlite",
    "Traceback",
    "127.0.0.1",
    "waypost_",
)
CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


@pytest_asyncio.fixture(loop_scope="session")
async def failing_database(
    test_database: TestDatabase, tmp_path: Path
) -> AsyncIterator[tuple[Database, Any]]:
    """A database whose every query fails for real, and what takes it down.

    Postgres: the app reaches the server through a TCP proxy; once the pool holds
    connections the proxy cuts them and refuses new ones (a blip). SQLite: the
    file is not a database.
    """
    if test_database.is_postgres:
        url = make_url(test_database.app_url)
        with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            through = url.set(host="127.0.0.1", port=proxy.port)
            db = make_database(replace(test_database, app_url=through.render_as_string(False)))
            try:
                await db.ping()  # the pool holds a connection the cut will break
                yield db, proxy.down
            finally:
                await db.dispose()
        return
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database file " * 200)
    db = Database(f"sqlite+aiosqlite:///{broken}")
    try:
        yield db, lambda: None
    finally:
        await db.dispose()


def _assert_masked(response: httpx.Response, token: str) -> None:
    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.match(request_id)
    body = response.json()
    [error] = body["errors"]
    assert error["message"] == "Unexpected error.", body
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}, body
    for leak in (*LEAKS, token, hash_secret(token)):
        assert leak not in response.text, response.text
    assert not CLASS_NAME.search(response.text), response.text


@pytest.mark.parametrize(
    ("env", "query"),
    [
        (Environment.TEST, VIEWER),  # the authentication extension
        (Environment.PRODUCTION, VIEWER),  # the private schema signs in before validation
        (Environment.TEST, MAP_READ),  # the map read cache signs in before executing
        (Environment.PRODUCTION, MAP_READ),
    ],
)
async def test_a_database_failing_during_authentication_is_masked(
    test_database: TestDatabase,
    failing_database: tuple[Database, Any],
    caplog: pytest.LogCaptureFixture,
    env: Environment,
    query: str,
) -> None:
    db, take_down = failing_database
    settings = (
        production_settings(test_database.app_url)
        if env is Environment.PRODUCTION
        else Settings(env=env, database_url=test_database.app_url)
    )
    token = "wp_" + "A" * 43  # looked up in the database, which fails
    variables = {"id": str(relay.GlobalID("JourneyMap", str(uuid.uuid4())))}
    take_down()
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            # The first meets the cut connection, the next ones a refused connect.
            responses = [
                await http.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
                for _ in range(2)
            ]
    for response in responses:
        _assert_masked(response, token)
    if test_database.is_postgres:
        # A lost connection is an outage: its one warning line, no traceback per request.
        assert not [r for r in caplog.records if r.exc_info], caplog.records
        return
    for response in responses:
        # A broken database file is a fault: logged once, under the request id.
        request_id = response.headers["x-request-id"]
        logged = [r for r in caplog.records if r.exc_info and request_id in r.getMessage()]
        assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    # Nothing else logged the failure without the id (strawberry's own error log).
    assert all(
        any(r.headers["x-request-id"] in rec.getMessage() for r in responses)
        for rec in caplog.records
        if rec.exc_info
    ), [r.getMessage() for r in caplog.records]


async def test_a_500_keeps_the_connection_usable(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash(_request: object) -> None:
        raise RuntimeError("SELECT secret FROM leaked")

    ports: set[int] = set()

    async def note_port(response: httpx.Response) -> None:
        # The client's side of the socket each answer came on, read while it is open.
        ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])

    monkeypatch.setattr(backend.entrypoints.app, "healthz", crash)
    app = create_app(settings, database=database)
    with caplog.at_level(logging.ERROR):
        async with (
            serve(app) as address,
            httpx.AsyncClient(
                base_url=f"http://{address}", timeout=10, event_hooks={"response": [note_port]}
            ) as http,
        ):
            failed = await http.get("/healthz")
            then = await http.post(
                "/graphql",
                json={"query": VIEWER},
                headers={"Authorization": f"Bearer {tenant_a.token}"},
            )
            again = await http.get("/healthz")
    assert failed.status_code == 500
    assert failed.headers.get("connection", "").lower() != "close"
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert "leaked" not in failed.text
    assert then.status_code == 200, then.text
    assert then.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
    assert again.status_code == 500
    # One socket for all three: the server did not close it after the 500s.
    assert len(ports) == 1, ports
    # Each crash logged once, with its request id (not again by the server).
    for response in (failed, again):
        request_id = response.headers["x-request-id"]
        crashes = [r for r in caplog.records if r.exc_info and "leaked" in str(r.exc_info[1])]
        assert [r for r in crashes if request_id in r.getMessage()], crashes
    assert len([r for r in caplog.records if r.exc_info]) == 2, caplog.records
