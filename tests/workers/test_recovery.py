"""Recovery in seconds when the broker loses messages or a worker dies, and a quiet log
while the broker is away.

* Messages flushed out of Redis before any worker took them are sent again as soon as
  the relay sees the broker's new epoch, not after the 15-minute redelivery window.
* A worker killed with SIGKILL mid-message: another worker takes the message over once
  the dead one's heartbeat is stale (Redis), with no help from the outbox.
* A broker outage is one warning line going down and one coming back, no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import Database
from backend.models.outbox import OutboxEvent
from backend.outbox.dispatch import subscribe
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.databases import TestDatabase
from tests.fixtures.proxy import TcpProxy
from tests.fixtures.tenants import Tenant
from tests.workers.test_resilience import (
    _emit,
    _event,
    _events,
    _slow_worker,
    _unique,
    broker_server,
)
from workers.background import Background
from workers.schedule import claimed_job

# Generous bounds: recovery is measured in seconds, the old figures were minutes.
RECOVERS_WITHIN = 30.0
EVENTS = 5


async def _worker_without_schedule(settings: Settings, database: Database) -> Background:
    """A worker whose schedule periods are already taken: what these tests measure is how
    messages are handled, and a day's first worker would otherwise start with housekeeping
    and the full health pass over every workspace of the test database, a queue of
    hundreds of messages ahead of the ones the test waits for."""
    background = Background(settings, database, run_workers=True)
    now = time.time()
    for job in background.jobs:
        await background.claims.claim(claimed_job(job), int(now // job.seconds))
    return background


def _redis_settings(settings: Settings) -> Settings:
    """Workers on a real Redis broker, with the default (15-minute) redelivery window."""
    server = broker_server("redis")
    server.require()
    return settings.model_copy(update={"broker_url": server.url})


def _recorder(event_type: str) -> list[UUID]:
    handled: list[UUID] = []

    async def record(_session: AsyncSession, event: OutboxEvent) -> None:
        handled.append(event.id)

    subscribe(event_type, record)
    return handled


async def test_events_flushed_out_of_the_broker_are_handled_within_seconds_exactly_once(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    redis_settings = _redis_settings(settings)
    workspace = tenant_a.workspace_ids[0]
    event_type = _unique("test.flushed")
    handled = _recorder(event_type)

    # The API's side: a relay and no workers, so the messages wait inside Redis.
    async with Background(redis_settings, database, run_workers=False):
        ids = [await _emit(database, workspace, event_type, {"n": n}) for n in range(EVENTS)]

        async def dispatched() -> bool:
            return all(e.dispatched_at for e in await _events(database, workspace))

        await eventually(dispatched, within=10)
    redis.Redis.from_url(redis_settings.broker_url).flushdb()  # a restart without persistence

    started = time.monotonic()
    async with await _worker_without_schedule(redis_settings, database):

        async def processed() -> bool:
            return all(e.processed_at for e in await _events(database, workspace))

        await eventually(processed, within=RECOVERS_WITHIN)
        recovered = time.monotonic() - started
        await asyncio.sleep(2)  # room for a second delivery to show
    print(f"\nrecovered from a flushed broker in {recovered:.1f} s")
    assert sorted(handled) == sorted(ids)  # each once
    assert [e.dispatch_count for e in await _events(database, workspace)] == [2] * EVENTS


async def test_a_killed_workers_message_is_taken_over_by_another_worker(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    test_database: TestDatabase,
    tmp_path: Path,
) -> None:
    redis_settings = _redis_settings(settings)
    workspace = tenant_a.workspace_ids[0]
    event_type = _unique("test.taken_over")
    marker, log = tmp_path / "started.json", tmp_path / "worker.log"
    # Made before the slow worker starts: on SQLite its long message holds the write lock.
    second = await _worker_without_schedule(redis_settings, database)

    with _slow_worker(test_database, redis_settings.broker_url, event_type, marker, log) as process:
        event_id = await _emit(database, workspace, event_type, {"work": "long"})

        async def started() -> dict[str, Any] | None:
            if process.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{log.read_text()}")
            return json.loads(marker.read_text()) if marker.exists() else None

        assert (await eventually(started, within=30))["pid"] == process.pid
        in_flight = await _event(database, workspace, event_id)
        # Another worker, up before the slow one dies (as in a deployment with two).
        async with second:
            handled = _recorder(event_type)
            process.kill()  # SIGKILL: no cleanup, no ack
            assert await asyncio.to_thread(process.wait, 10) == -signal.SIGKILL
            killed = time.monotonic()

            async def processed() -> OutboxEvent | None:
                event = await _event(database, workspace, event_id)
                return event if event.processed_at is not None else None

            await eventually(processed, within=RECOVERS_WITHIN + 15)
            taken_over = time.monotonic() - killed
            await asyncio.sleep(1)
    print(f"\na killed worker's message was handled {taken_over:.1f} s later")
    assert taken_over < RECOVERS_WITHIN
    assert handled == [event_id]
    # The broker's requeue saved it, not the outbox's resend.
    assert (await _event(database, workspace, event_id)).dispatch_count == in_flight.dispatch_count


async def test_a_broker_outage_logs_one_line_down_and_one_back_without_tracebacks(
    settings: Settings, database: Database, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    server = broker_server("redis")
    server.require()
    workspace = tenant_a.workspace_ids[0]
    event_type = _unique("test.outage")
    with TcpProxy(*server.address) as proxy:
        through = settings.model_copy(update={"broker_url": server.through(proxy.port)})
        # The API's side (`waypost serve` on a real broker): a relay, no workers.
        async with Background(through, database, run_workers=False) as api:
            caplog.set_level(logging.INFO)
            proxy.down()
            for n in range(EVENTS):  # each commit nudges the relay into a pass
                await _emit(database, workspace, event_type, {"n": n})
                await asyncio.sleep(0.2)

            async def failed_passes() -> bool:
                return api.relay.outage.failures >= 5

            await eventually(failed_passes, within=20)
            proxy.up()

            async def dispatched() -> bool:
                return all(e.dispatched_at for e in await _events(database, workspace))

            await eventually(dispatched, within=20)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r for r in records if r.exc_info or r.exc_text] == []
    lines = [r.getMessage() for r in records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("background sending stopped: the broker or the database is"), lines
    assert lines[1].startswith("background sending resumed"), lines
    [failures] = re.findall(r"(\d+) failed attempts", lines[1])
    assert int(failures) >= 5
