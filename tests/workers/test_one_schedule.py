"""One schedule per deployment: two API processes and two workers, real processes on Redis
and on RabbitMQ alike, run the full health pass once a period (a pass per period claimed
in the database, a period claimed once); with the workers down nobody runs it, and a
worker coming back runs the current period's at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID

import httpx
import pika
import pytest
import redis
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import HealthGeneration, ScheduleClaim
from tests.fixtures.background import eventually
from tests.fixtures.databases import (
    TestDatabase,
    configured_broker_url,
    real_broker_url,
    unreachable,
)
from tests.fixtures.listening import listening_port
from tests.fixtures.tenants import Tenant
from workers.broker import scheme_of

WAYPOST = [sys.executable, "-m", "backend.entrypoints"]
PERIOD = 2.0  # the full health pass's, in this test: a night is two seconds
HOUR = 3600.0  # housekeeping's, as configured by default
STARTUP_SECONDS = 60.0


def _broker_url(kind: str) -> str:
    """The run's broker when it is of this kind (several processes need a real one), else
    the local default one; reachable, or the test is skipped (failed under CI)."""
    url = configured_broker_url()
    if not scheme_of(url).startswith(kind):
        url = real_broker_url(kind)
    try:
        if kind == "redis":
            redis.Redis.from_url(url).ping()
        else:
            pika.BlockingConnection(pika.URLParameters(url)).close()
    except Exception as error:
        unreachable("Redis" if kind == "redis" else "RabbitMQ", error)
    return url


class Processes:
    """`waypost` subprocesses, each logging to a file the failures print."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.running: dict[str, asyncio.subprocess.Process] = {}

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    async def start(self, name: str, *args: str) -> None:
        with (self.tmp_path / f"{name}.log").open("wb") as sink:
            self.running[name] = await asyncio.create_subprocess_exec(
                *WAYPOST, *args, env=self.env, stdout=sink, stderr=sink
            )

    async def stop(self, name: str) -> int:
        process = self.running.pop(name)
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"{name} did not stop:\n{self.log(name)}") from None

    async def started(self, name: str, probe: str | None = None) -> None:
        """Until a worker prints ``probe`` or, with no probe, an API answers /healthz on
        the port it reports listening on."""
        process = self.running[name]
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def up() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"{name} exited early:\n{self.log(name)}")
                if probe is not None:
                    return probe in self.log(name)
                if not (port := listening_port(self.log(name))):
                    return False
                try:
                    reply = await http.get(f"http://127.0.0.1:{port}/healthz")
                except httpx.TransportError:
                    return False
                return reply.status_code == 200

            await eventually(up, within=STARTUP_SECONDS, interval=0.2)

    async def stop_all(self) -> None:
        for name in list(self.running):
            await self.stop(name)


@asynccontextmanager
async def _processes(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Processes]:
    processes = Processes(tmp_path, env)
    try:
        yield processes
    finally:
        await processes.stop_all()


async def _passes(owner: AsyncEngine, workspaces: list[UUID]) -> list[int]:
    """How many health passes each workspace had (each pass counts one generation)."""
    async with owner.connect() as conn:
        rows = dict(
            (
                await conn.execute(
                    select(HealthGeneration.workspace_id, HealthGeneration.generation)
                )
            ).all()
        )
    return [int(rows.get(ws, 0)) for ws in workspaces]


async def _claims(owner: AsyncEngine, job: str) -> int:
    """How many periods of ``job`` were claimed (its claims name it and its interval)."""
    async with owner.connect() as conn:
        claimed = await conn.scalar(
            select(func.count()).where(ScheduleClaim.job.startswith(f"{job}:"))
        )
    return int(claimed or 0)


@pytest.mark.parametrize("kind", ["redis", "amqp"])
async def test_two_apis_and_two_workers_run_the_nightly_pass_once_a_period(
    kind: str,
    tmp_path: Path,
    test_database: TestDatabase,
    database: Database,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
) -> None:
    broker_url = _broker_url(kind)
    async with inspector_engine.begin() as conn:  # earlier tests' periods
        await conn.execute(delete(ScheduleClaim))
    workspaces = list(tenant_a.workspace_ids)
    env = {
        **os.environ,
        "WAYPOST_DATABASE_URL": test_database.app_url,
        "WAYPOST_BROKER_URL": broker_url,
        "WAYPOST_ENV": "test",
        "WAYPOST_HEALTH_FULL_INTERVAL_SECONDS": str(PERIOD),
    }
    apis = ("api-1", "api-2")
    async with _processes(tmp_path, env) as running:
        for name in apis:
            await running.start(name, "serve", "--port", "0")
        first_start = time.time()
        for name in ("worker-1", "worker-2"):
            await running.start(name, "worker")
        for name in apis:
            await running.started(name)
        for name in ("worker-1", "worker-2"):
            await running.started(name, "worker running")

        # Passes are read before claims: a pass follows its claim, so without a pass run
        # unclaimed (as an API would, or a second worker) passes never exceed claims.
        async def caught_up(more_than: int) -> int | None:
            passes = await _passes(inspector_engine, workspaces)
            claims = await _claims(inspector_engine, "health-full")
            assert max(passes) <= claims, (passes, claims)
            return claims if passes == [claims] * len(passes) and claims > more_than else None

        await eventually(lambda: caught_up(2), within=30, interval=0.05)
        for name in ("worker-1", "worker-2"):
            assert await running.stop(name) == 0, running.log(name)
        passes = await _passes(inspector_engine, workspaces)
        periods = await _claims(inspector_engine, "health-full")
        assert max(passes) <= periods
        # Housekeeping (an hour's period) ran once an hour, though four processes started.
        hours = int(time.time() // HOUR) - int(first_start // HOUR) + 1
        assert await _claims(inspector_engine, "housekeeping") == hours

        # The workers down, the APIs do not take over: two periods go by unclaimed, unrun.
        await asyncio.sleep(2 * PERIOD)
        assert await _passes(inspector_engine, workspaces) == passes
        assert await _claims(inspector_engine, "health-full") == periods

        # A worker coming back runs the current period's pass at once.
        await running.start("worker-3", "worker")
        await eventually(lambda: caught_up(periods), within=STARTUP_SECONDS, interval=0.05)
        assert await running.stop("worker-3") == 0, running.log("worker-3")
        # Nor did it run housekeeping again within the hour the others ran it in.
        hours = int(time.time() // HOUR) - int(first_start // HOUR) + 1
        assert await _claims(inspector_engine, "housekeeping") == hours
        for name in apis:
            assert await running.stop(name) in (0, -signal.SIGTERM), running.log(name)
            assert "Traceback" not in running.log(name)
