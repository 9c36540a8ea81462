"""Everything that runs in the background of a process: relay, schedule, workers.

`waypost serve` runs it with in-process workers on the embedded default broker
(and without them on a real broker); `waypost worker` runs it with workers.

The schedule (workers.schedule) runs where the queues are worked: in the one process
of the embedded broker, and in `waypost worker` on a real one. API processes on a real
broker never run it, so N of them do not make N nightly passes; with every worker
down, nothing runs it (nothing would work what it sends either) until a worker starts
and runs the current period's jobs. Workers claim each period in the database
(``schedule_claims``), on Redis and RabbitMQ alike: one runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import timedelta
from types import TracebackType

import dramatiq
from dramatiq.middleware import Retries
from dramatiq.middleware.asyncio import AsyncIO
from sqlalchemy import select

from backend.auth.sso import prune_expired_attempts
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.models import Workspace
from backend.models.outbox import OutboxEvent
from backend.outage import OutageLog
from backend.outbox.emit import after_commit_hooks
from backend.outbox.live import LiveEvents
from backend.outbox.relay import OutboxRelay
from backend.settings import Settings
from workers.actors import Actors, declare_actors
from workers.broker import build_broker, epoch_of, is_in_process
from workers.dead_letters import DeadLetters
from workers.outages import QuietOutages
from workers.runtime import WorkerRuntime
from workers.schedule import DatabaseClaims, PeriodicJob, Schedule

log = logging.getLogger("waypost.workers")

# How long housekeeping keeps a period's claim: long past the period, long enough to
# read which process ran the recent ones.
CLAIMS_KEPT = timedelta(days=7)


def create_broker(settings: Settings) -> tuple[dramatiq.Broker, Actors]:
    broker = build_broker(settings.broker_url)
    # Order matters, and dramatiq runs "after" hooks in reverse list order:
    # - the runtime follows AsyncIO, so on shutdown it disposes of its engine
    #   while AsyncIO's loop still runs;
    # - dead letters precede Retries, so they see the message Retries just failed.
    broker.add_middleware(AsyncIO())
    broker.add_middleware(WorkerRuntime(settings))
    broker.add_middleware(QuietOutages())
    broker.add_middleware(DeadLetters(), before=Retries)
    return broker, declare_actors(broker, health_coalesce_ms=settings.health_coalesce_ms)


class Background:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        run_workers: bool,
        live: LiveEvents | None = None,
    ) -> None:
        self.settings = settings
        # What the relay sends is also announced to subscribers: this process's (``live``,
        # from the API) and, on Redis or RabbitMQ, every process's. A worker's relay
        # announces too, since it may be the one that takes a workspace's events; it
        # listens to none.
        self.listens = live is not None
        self.live = live or LiveEvents(settings.broker_url)
        self.db = db
        self.run_workers = run_workers
        self.broker, self.actors = create_broker(settings)
        # The relay and the schedule send through the same broker: one outage, one line.
        self.outage = OutageLog(log)
        self.relay = OutboxRelay(
            db,
            self._send,
            redeliver_after=timedelta(seconds=settings.outbox_redeliver_after_seconds),
            epoch=epoch_of(self.broker),
            outage=self.outage,
        )
        self.worker: dramatiq.Worker | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.schedule = Schedule(self._stop, self.outage)
        self.claims = DatabaseClaims(db)
        self.jobs = (
            PeriodicJob(
                "housekeeping",
                "housekeeping",
                settings.audit_verify_interval_seconds,
                self.housekeep,
            ),
            PeriodicJob(
                "audit-full",
                "the audit chains' full verification",
                settings.audit_full_verify_interval_seconds,
                self.verify_all_audit_chains,
            ),
            PeriodicJob(
                "health-full",
                "the full health pass",
                settings.health_full_interval_seconds,
                self.recalculate_all_health,
            ),
        )

    def _send(self, event: OutboxEvent) -> None:
        self.actors.dispatch_outbox_event.send(str(event.workspace_id), str(event.id))
        self.live.announce(event)  # after the broker took it; never raises

    async def housekeep(self) -> int:
        """Delete expired sign-in attempts and old schedule claims; enqueue audit
        verification and purging of expired deletes for every workspace (their number is
        returned)."""
        pruned = await prune_expired_attempts(self.db)
        if pruned:
            log.info("deleted %d expired sign-in attempts", pruned)
        # Kept while their period may still be current: a longer interval keeps them longer.
        keep = max(CLAIMS_KEPT, *(timedelta(seconds=2 * job.seconds) for job in self.jobs))
        pruned = await self.claims.prune(utcnow() - keep)
        if pruned:
            log.info("deleted %d old schedule claims", pruned)
        return await self._send_for_every_workspace(*self.actors.periodic())

    async def verify_all_audit_chains(self) -> int:
        """Enqueue the verification of every workspace's whole audit chain."""
        return await self._send_for_every_workspace(self.actors.verify_audit_chain_in_full)

    async def recalculate_all_health(self) -> int:
        """Enqueue the full health pass (and snapshot) of every workspace."""
        return await self._send_for_every_workspace(self.actors.recalculate_all_health)

    async def _send_for_every_workspace(self, *actors: dramatiq.Actor[[str], None]) -> int:
        """Send each actor a message for every workspace; return how many workspaces."""
        async with self.db.transaction(NO_TENANT) as session:
            ids = (await session.scalars(select(Workspace.id))).all()
        for workspace_id in ids:
            for actor in actors:
                await asyncio.to_thread(actor.send, str(workspace_id))
        return len(ids)

    def _scheduled(self) -> list[Coroutine[None, None, None]]:
        """The schedule's loops this process runs (see the module's docstring)."""
        if is_in_process(self.settings.broker_url):
            return [self.schedule.every(job) for job in self.jobs]
        if not self.run_workers:
            return []
        return [self.schedule.once_a_period(job, self.claims) for job in self.jobs]

    async def __aenter__(self) -> Background:
        if self.run_workers:
            self.worker = dramatiq.Worker(
                self.broker, worker_threads=self.settings.worker_threads, worker_timeout=200
            )
            self.worker.start()
        after_commit_hooks.append(self.relay.nudge)
        self._tasks = [
            asyncio.create_task(self.relay.run(self._stop)),
            *([asyncio.create_task(self.live.run(self._stop))] if self.listens else []),
            *(asyncio.create_task(loop) for loop in self._scheduled()),
        ]
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(ValueError):
            after_commit_hooks.remove(self.relay.nudge)
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop)
        await asyncio.to_thread(self.broker.close)
        if not self.listens:
            self.live.close()  # ours alone; the API closes the one it passed
