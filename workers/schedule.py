"""The schedule: how the processes that run periodic jobs (housekeeping, the nightly
health pass) run each once a period, however many of them there are.

Which processes run it is decided in ``workers.background``; here is how they run it:

- ``Schedule.every``: at start-up, then every interval. One process alone runs the
  schedule this way: `waypost serve` on the embedded broker (memory://), with nobody
  to agree with.
- ``Schedule.once_a_period``: every `waypost worker` on a real broker (Redis or
  RabbitMQ alike). Time is cut into periods of the job's interval counted from the
  Unix epoch, so that every process agrees where a period starts (a daily job's
  period is the UTC day). Each process asks for the current period once, at start-up
  and then at each period's start, by inserting its row in ``schedule_claims``
  (``DatabaseClaims``): the one whose insert goes in runs the job, the others find the
  row there. Any number of workers run each job once a period, a restart does not run
  it again within the period, and a worker coming back after the period began still
  runs it if nobody did. A run that fails gives its claim back, to be tried again.
  Housekeeping prunes claims long past (``DatabaseClaims.prune``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.models.schedule import ScheduleClaim
from backend.outage import OutageLog

log = logging.getLogger("waypost.workers")

# A job that failed (or could not be claimed: the database was away) is tried again this
# soon within its period, and its claim is given back so that any process may.
RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    key: str  # its claims' name, e.g. "health-full"
    name: str  # in log lines, e.g. "the full health pass"
    seconds: float  # its interval, which is its period
    run: Callable[[], Awaitable[int]]


class DatabaseClaims:
    """Periods claimed by inserting ``(job, period)`` in ``schedule_claims``: the first
    insert wins, the others do nothing. Each call is a short transaction of its own."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    async def claim(self, job: str, period: int) -> bool:
        """Whether this process got ``job``'s ``period`` (nobody had claimed it)."""
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        statement = (
            insert(ScheduleClaim)
            .values(job=job, period=period, claimed_by=self.owner, claimed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["job", "period"])
        )
        async with self.db.transaction(NO_TENANT, write=True) as session:
            result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, job: str, period: int) -> None:
        """Give back a period this process claimed, for any process to claim again."""
        async with self.db.transaction(NO_TENANT, write=True) as session:
            await session.execute(
                delete(ScheduleClaim).where(
                    ScheduleClaim.job == job,
                    ScheduleClaim.period == period,
                    ScheduleClaim.claimed_by == self.owner,
                )
            )

    async def prune(self, before: datetime) -> int:
        """Delete claims made before ``before``; how many there were."""
        async with self.db.transaction(NO_TENANT, write=True) as session:
            result = await session.execute(
                delete(ScheduleClaim).where(ScheduleClaim.claimed_at < before)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claimed_job(job: PeriodicJob) -> str:
    """``job``'s name in its claims; the interval is in it, so that processes configured
    with different intervals do not share periods."""
    return f"{job.key}:{job.seconds:g}"


class Schedule:
    def __init__(
        self,
        stop: asyncio.Event,
        outage: OutageLog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stop = stop
        self.outage = outage
        self.clock = clock

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.0))

    def _failed(self, job: PeriodicJob, error: Exception, retry: float) -> None:
        log.info("scheduling %s failed; retried in %.0f s", job.name, retry)
        self.outage.failed(error)

    async def every(self, job: PeriodicJob) -> None:
        """Run ``job`` now, then every interval after (one process, nobody to agree with)."""
        while not self._stop.is_set():
            try:
                await job.run()
            except Exception as error:
                self._failed(job, error, job.seconds)
            else:
                self.outage.succeeded()
            await self._sleep(job.seconds)

    async def once_a_period(self, job: PeriodicJob, claims: DatabaseClaims) -> None:
        """Run ``job`` in each period this process is the first to claim."""
        name = claimed_job(job)
        while not self._stop.is_set():
            now = self.clock()
            period = int(now // job.seconds)
            wait = (period + 1) * job.seconds - now
            try:
                if await claims.claim(name, period):
                    try:
                        done = await job.run()
                    except Exception:
                        with contextlib.suppress(Exception):  # else it stays claimed, unrun
                            await claims.release(name, period)
                        raise
                    log.info("ran %s for period %d: %d workspaces", job.name, period, done)
            except Exception as error:
                wait = min(wait, RETRY_SECONDS)
                self._failed(job, error, wait)
            else:
                self.outage.succeeded()
            await self._sleep(wait)
