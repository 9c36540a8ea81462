"""The schedule: how the processes that run periodic jobs (housekeeping, the nightly
health pass) run each once a period, however many of them there are.

Which processes run it is decided in ``workers.background``; here is how they run it:

- ``Schedule.every``: at start-up, then every interval. One process alone runs the
  schedule this way: `waypost serve` on the embedded broker (memory://). So does each
  worker on RabbitMQ, which offers no store to claim periods in: there, several
  `waypost worker` processes each run it.
- ``Schedule.once_a_period``: time is cut into periods of the job's interval counted
  from the Unix epoch, so that every process agrees where a period starts (a daily job's
  period is the UTC day). Each process asks for the current period once, at start-up
  and then at each period's start; the first to claim it in the broker's Redis runs the
  job, the others find it taken. Any number of `waypost worker` processes run each job
  once a period, a restart does not run it again within the period, and a worker coming
  back after the period began still runs it if nobody did.
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

import redis

from backend.outage import OutageLog

log = logging.getLogger("waypost.workers")

CLAIM_PREFIX = "waypost:schedule"
# A claim outlives its period by this much: a process whose clock lags another's by less
# still finds the period taken (and a test can count the claims made).
CLAIM_GRACE_SECONDS = 60.0
# A job that failed (or could not be claimed: the broker was away) is tried again this
# soon within its period, and its claim is given back so that any process may.
RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    key: str  # its claims' name, e.g. "health-full"
    name: str  # in log lines, e.g. "the full health pass"
    seconds: float  # its interval, which is its period
    run: Callable[[], Awaitable[int]]


class RedisClaims:
    """Periods claimed with SET NX in the broker's Redis: the first to ask wins."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self.client.set(key, self.owner, nx=True, px=int(ttl_seconds * 1000)))

    def release(self, key: str) -> None:
        self.client.delete(key)


def claim_key(job: PeriodicJob, period: int) -> str:
    # The interval is in the key: processes configured differently do not share periods.
    return f"{CLAIM_PREFIX}:{job.key}:{job.seconds:g}:{period}"


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

    async def once_a_period(self, job: PeriodicJob, claims: RedisClaims) -> None:
        """Run ``job`` in each period this process is the first to claim."""
        ttl = job.seconds + CLAIM_GRACE_SECONDS
        while not self._stop.is_set():
            now = self.clock()
            period = int(now // job.seconds)
            wait = (period + 1) * job.seconds - now
            key = claim_key(job, period)
            try:
                if await asyncio.to_thread(claims.claim, key, ttl):
                    try:
                        done = await job.run()
                    except Exception:
                        with contextlib.suppress(Exception):  # unclaimed when it expires
                            await asyncio.to_thread(claims.release, key)
                        raise
                    log.info("ran %s for period %d: %d workspaces", job.name, period, done)
            except Exception as error:
                wait = min(wait, RETRY_SECONDS)
                self._failed(job, error, wait)
            else:
                self.outage.succeeded()
            await self._sleep(wait)
