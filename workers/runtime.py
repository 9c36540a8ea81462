"""The worker side's settings and database, and the session every actor acts through.

Actors run on dramatiq's event-loop thread, which needs its own engine (async
connections belong to the loop that opened them). ``WorkerRuntime`` is a
dramatiq middleware: it owns that engine and disposes of it when the worker stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database, database_from_settings
from backend.db.scoping import TenantBinding
from backend.settings import Settings

_current: WorkerRuntime | None = None


class WorkerRuntime(dramatiq.Middleware):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        # Created lazily, on the event-loop thread that first needs it.
        if self._db is None:
            self._db = database_from_settings(self.settings, pool_size=5)
        return self._db

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _current
        _current = self

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if self._db is not None and loop_thread is not None:
            loop_thread.run_coroutine(self._db.dispose())
        self._db = None


def runtime() -> WorkerRuntime:
    if _current is None:
        raise RuntimeError("no worker runtime: actors run only inside a started dramatiq Worker")
    return _current


@asynccontextmanager
async def workspace_transaction(
    workspace_id: UUID, *, request_id: str | None = None
) -> AsyncIterator[AsyncSession]:
    """A write transaction bound to the one workspace an actor acts for."""
    binding = TenantBinding(frozenset({workspace_id}))
    async with runtime().db.transaction(binding, write=True) as session:
        bind_actor(session, Actor.system(request_id=request_id))
        yield session


@asynccontextmanager
async def workspace_snapshot(workspace_id: UUID) -> AsyncIterator[AsyncSession]:
    """A read transaction bound to the workspace, every statement in one snapshot: for
    long reads that must not hold writers up nor see their commits halfway."""
    binding = TenantBinding(frozenset({workspace_id}))
    async with runtime().db.transaction(binding, snapshot=True) as session:
        yield session
