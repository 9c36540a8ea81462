"""`waypost worker` and `waypost migrate`, run as real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import OutboxEvent
from backend.outbox.emit import emit
from tests.fixtures.background import eventually
from tests.fixtures.databases import (
    TestDatabase,
    configured_broker_url,
    real_broker_url,
    unreachable,
)
from tests.fixtures.tenants import Tenant
from workers.broker import build_broker, is_in_process

WAYPOST = [sys.executable, "-m", "backend.entrypoints"]


def test_migrate_builds_an_empty_embedded_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh/waypost.db"
    done = subprocess.run(
        [*WAYPOST, "migrate"],
        env={**os.environ, "WAYPOST_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    assert (tmp_path / "fresh" / "waypost.db").stat().st_size > 0


def test_worker_refuses_the_in_process_broker() -> None:
    done = subprocess.run(
        [*WAYPOST, "worker"],
        env={**os.environ, "WAYPOST_BROKER_URL": "memory://"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "waypost serve" in done.stderr


async def test_worker_process_handles_an_outbox_event_and_stops_cleanly(
    test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    broker_url = configured_broker_url()
    if is_in_process(broker_url):
        broker_url = real_broker_url("redis")  # a real broker is what this command is for
        try:
            build_broker(broker_url).client.ping()
        except Exception as error:
            unreachable("Redis", error)
    workspace = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
        bind_actor(s, Actor.system())
        event = await emit(s, workspace, "test.worker_cli", {})
    event_id = event.id
    env = {
        **os.environ,
        "WAYPOST_DATABASE_URL": test_database.app_url,
        "WAYPOST_BROKER_URL": broker_url,
        "WAYPOST_ENV": "test",
    }
    process = await asyncio.create_subprocess_exec(
        *WAYPOST,
        "worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:

        async def processed() -> bool:
            async with database.transaction(TenantBinding(frozenset({workspace}))) as session:
                row = await session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id))
            return row is not None and row.processed_at is not None

        await eventually(processed, within=30)
    finally:
        process.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(process.communicate(), 30)
    output = raw.decode()
    assert process.returncode == 0, output
    assert "worker running" in output
