"""A lost database or broker is one warning going and one coming back, not a traceback per
failed request or message; any other unexpected error keeps its single traceback.

* The API behind a TCP proxy that cuts the database for a few requests: each answer is
  still masked INTERNAL with its request id, the log holds one "unreachable" and one
  "answers again" line, and no traceback.
* A dramatiq worker whose messages fail on lost connections: one warning, no
  "Failed to process message" traceback; a message failing on a bug keeps its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import dramatiq
import httpx
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.engine import make_url

from backend.db.outage import DATABASE_OUTAGE
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase
from tests.fixtures.proxy import TcpProxy
from tests.fixtures.tenants import Tenant
from workers.outages import BROKER_OUTAGE, QuietOutages

VIEWER = "{ viewer { user { email } } }"


@pytest.fixture(autouse=True)
def no_outage_yet() -> Iterator[None]:
    for outage in (DATABASE_OUTAGE, BROKER_OUTAGE):
        outage._since, outage.failures = None, 0
    yield
    for outage in (DATABASE_OUTAGE, BROKER_OUTAGE):
        outage._since, outage.failures = None, 0


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


async def test_a_database_cut_is_one_line_down_and_one_back_not_a_traceback_per_request(
    test_database: TestDatabase,
    settings: Settings,
    tenant_a: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if not test_database.is_postgres:
        pytest.skip("cutting the connections needs a database server")
    url = make_url(test_database.app_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        db = make_database(replace(test_database, app_url=through))
        app = create_app(settings, database=db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {tenant_a.token}"}
        try:
            with caplog.at_level(logging.WARNING):
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:

                    async def viewer() -> httpx.Response:
                        return await http.post("/graphql", json={"query": VIEWER}, headers=headers)

                    assert "errors" not in (await viewer()).json()
                    proxy.down()
                    during = [await viewer() for _ in range(4)]
                    proxy.up()
                    after = await viewer()
        finally:
            await db.dispose()
    for response in during:
        [error] = response.json()["errors"]
        assert error["extensions"] == {
            "code": "INTERNAL",
            "requestId": response.headers["x-request-id"],
        }
    assert after.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
    messages = [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], messages
    assert len(_lines(caplog, "database unreachable")) == 1, messages
    assert len(_lines(caplog, "database answers again")) == 1, messages
    assert "after 0 s and 4 failed" in _lines(caplog, "database answers again")[0].getMessage()


def test_a_worker_logs_lost_connections_once_and_bugs_with_their_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = StubBroker()
    broker.add_middleware(QuietOutages())

    @dramatiq.actor(broker=broker, max_retries=0)
    def lost(n: int) -> None:
        raise ConnectionResetError(f"connection {n} reset by peer")

    @dramatiq.actor(broker=broker, max_retries=0)
    def buggy() -> None:
        raise ValueError("a bug")

    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        with caplog.at_level(logging.WARNING):
            for n in range(5):
                lost.send(n)
            broker.join(lost.queue_name, fail_fast=False)
            worker.join()
            buggy.send()
            broker.join(buggy.queue_name, fail_fast=False)
            worker.join()
    finally:
        worker.stop()
    messages = [r.getMessage() for r in caplog.records]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [type(r.exc_info[1]) for r in tracebacks if r.exc_info] == [ValueError], messages
    assert len(_lines(caplog, "database unreachable")) == 1, messages
    assert DATABASE_OUTAGE.failures == 5
    # The filter leaves the loggers when the worker stops.
    assert not logging.getLogger("dramatiq.worker.WorkerThread").filters
