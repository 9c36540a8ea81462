"""The relay: hands due outbox events to the broker, in order per workspace.

Safe with several relays running: on Postgres each workspace's batch is taken
under a transaction-level advisory lock that other relays skip; on SQLite the
write lock serializes them. An event is due when it was never dispatched, or
was dispatched long enough ago without being processed (its message was lost
with an in-process broker, or its worker died), or was dispatched before the
broker's current epoch began (the broker lost everything it held: see
``workers.broker.epoch_of``): delivery is at least once. An event whose retries ran
out is not due: its dead letter waits for a replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import ColumnElement, or_, select, text

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, UNSCOPED_OPTION, TenantBinding
from backend.db.types import utcnow
from backend.models.outbox import OutboxEvent
from backend.outage import OutageLog

log = logging.getLogger("waypost.outbox")

Send = Callable[[OutboxEvent], None]
# When the broker's current contents began (None: unknown); blocking, run in a thread.
Epoch = Callable[[], datetime | None]
DEFAULT_REDELIVER_AFTER = timedelta(minutes=15)  # see Settings.outbox_redeliver_after_seconds


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        send: Send,
        *,
        batch_size: int = 200,
        redeliver_after: timedelta = DEFAULT_REDELIVER_AFTER,
        epoch: Epoch | None = None,
        outage: OutageLog | None = None,
    ) -> None:
        self.db = db
        self.send = send
        self.batch_size = batch_size
        self.redeliver_after = redeliver_after
        self.epoch = epoch
        self.outage = outage or OutageLog(log)
        self._epoch_seen: datetime | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def nudge(self) -> None:
        """Ask for a pass soon: called after a commit that emitted events, from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def resend_before(self) -> datetime:
        """Unprocessed events dispatched before this are sent again: after the redelivery
        window, or at once when the broker's epoch began later (it lost them)."""
        before = utcnow() - self.redeliver_after
        epoch = await asyncio.to_thread(self.epoch) if self.epoch else None
        if epoch is None:
            return before
        if self._epoch_seen is not None and epoch != self._epoch_seen:
            log.warning(
                "the broker lost what it held (a new epoch began at %s): unprocessed events "
                "dispatched before then are sent again",
                epoch.isoformat(),
            )
        self._epoch_seen = epoch
        return max(before, epoch)

    def _due(self, before: datetime | None = None) -> ColumnElement[bool]:
        if before is None:
            before = utcnow() - self.redeliver_after
        return (
            OutboxEvent.processed_at.is_(None)
            & OutboxEvent.dead_lettered_at.is_(None)
            & or_(OutboxEvent.dispatched_at.is_(None), OutboxEvent.dispatched_at < before)
        )

    async def due_workspaces(self, before: datetime | None = None) -> list[UUID]:
        """Workspaces with due events, found without reading any event's content."""
        if before is None:
            before = utcnow() - self.redeliver_after
        async with self.db.transaction(NO_TENANT) as session:
            if self.db.dialect == "postgresql":
                # Row-level security hides every workspace from an unbound session; a
                # SECURITY DEFINER function answers with workspace ids and nothing else.
                rows = await session.execute(
                    text("select waypost_outbox_due_workspaces(:before)"),
                    {"before": before},
                )
                return [row[0] for row in rows]
            statement = select(OutboxEvent.workspace_id).where(self._due(before)).distinct()
            statement = statement.execution_options(**{UNSCOPED_OPTION: True})
            return list((await session.scalars(statement)).all())

    async def relay_workspace(self, workspace_id: UUID, before: datetime | None = None) -> int:
        binding = TenantBinding(frozenset({workspace_id}))
        async with self.db.transaction(binding, write=True) as session:
            if self.db.dialect == "postgresql":
                mine = await session.scalar(
                    text("select pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"waypost.outbox:{workspace_id}"},
                )
                if not mine:
                    return 0  # another relay is on this workspace right now
            events = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.workspace_id == workspace_id, self._due(before))
                    .order_by(OutboxEvent.sequence)
                    .limit(self.batch_size)
                )
            ).all()
            now = utcnow()
            for event in events:
                # A failure here rolls back the batch's marks: what was sent is sent
                # again later, which idempotent handling absorbs.
                await asyncio.to_thread(self.send, event)
                event.dispatched_at = now
                event.dispatch_count += 1
            return len(events)

    async def relay_once(self) -> int:
        sent = 0
        before = await self.resend_before()
        for workspace_id in await self.due_workspaces(before):
            sent += await self.relay_workspace(workspace_id, before)
        return sent

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Relay until ``stop`` is set: at each nudge, and every ``interval`` seconds."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await self.relay_once()
            except Exception as error:
                # The broker or database is away: events wait in the outbox.
                self.outage.failed(error)
            else:
                self.outage.succeeded()
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=interval, return_when="FIRST_COMPLETED"
            )
            for waiter in pending:
                waiter.cancel()
