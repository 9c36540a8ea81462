"""One read transaction for a request's batches, instead of one per batch.

A nested map read makes some five batched reads; each in a transaction of its own costs
a connection checkout, BEGIN, the tenant binding and COMMIT around its one statement.
``SharedReads`` opens one bound read transaction at the first batch, runs every batch of
the request on it, one at a time, and ends it when the request's execution ends
(``close``), or earlier when a write is about to start (the reads after it must see
what it committed, and SQLite's read snapshot lasts as long as its transaction).

What it guarantees, and how:
- the binding: a batch asking for another binding than the open transaction's (the
  request's sign-in ran in it, or a mutation widened the caller's reach) binds it again
  on Postgres, every setting replaced (in READ COMMITTED each statement sees what was
  committed before it began), and on SQLite ends it for one bound as asked to begin;
- a failed statement (which aborts a Postgres transaction) ends the transaction, so the
  next batch gets a fresh one;
- no deadlock: a batch runs only SQL on what it is given. A batch that awaited another
  loader while holding the connection would wait for itself; ``Loader.load`` refuses
  that outright (``holding``), so the mistake shows in every test that reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.db.engine import Database
from backend.db.scoping import TenantBinding, bind_connection

# Set while a task runs a batch on a shared transaction (inherited by tasks it starts).
_HOLDING: ContextVar[bool] = ContextVar("waypost_holding_shared_reads", default=False)


def holding() -> bool:
    """Whether the current task is inside a batch on a shared read transaction."""
    return _HOLDING.get()


class Reads(Protocol):
    """Where DataLoaders run their batches: a ``Database`` or a request's ``SharedReads``."""

    def transaction(self, binding: TenantBinding) -> AbstractAsyncContextManager[AsyncSession]: ...

    def connection(
        self, binding: TenantBinding
    ) -> AbstractAsyncContextManager[AsyncConnection]: ...


class SharedReads:
    """A request's batched reads, one after another, in one bound read transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()
        self._open: AbstractAsyncContextManager[AsyncConnection] | None = None
        self._connection: AsyncConnection | None = None
        self._binding: TenantBinding | None = None
        self.transactions = 0  # how many were opened (for tests)

    @asynccontextmanager
    async def connection(self, binding: TenantBinding) -> AsyncIterator[AsyncConnection]:
        """The shared transaction's connection, bound as ``binding``, for one batch."""
        async with self._lock:
            if self._binding != binding:
                await self._rebind(binding)
            if self._connection is None:
                await self._begin(binding)
            assert self._connection is not None
            token = _HOLDING.set(True)
            try:
                yield self._connection
            except BaseException as error:
                # Postgres refuses every statement after a failed one until rollback.
                # A rollback that fails too (the connection is gone) must not hide why.
                with contextlib.suppress(Exception):
                    await self._end(error)
                raise
            finally:
                _HOLDING.reset(token)

    @asynccontextmanager
    async def transaction(self, binding: TenantBinding) -> AsyncIterator[AsyncSession]:
        """An ORM session for one batch, joined to the shared transaction."""
        async with self.connection(binding) as connection:
            session = self.db.session_on(connection, binding)
            try:
                yield session
            finally:
                await session.close()

    async def close(self) -> None:
        """End the shared transaction, if one is open (the request's reads are done)."""
        async with self._lock:
            await self._end(None)

    async def _rebind(self, binding: TenantBinding) -> None:
        """Bind the open transaction as ``binding``: on Postgres in place (every setting
        replaced; each statement sees what is committed when it starts), elsewhere by
        ending it (SQLite keeps a transaction's snapshot) for the next to begin."""
        if self._connection is not None and self.db.dialect == "postgresql":
            await bind_connection(self._connection, binding)
            self._binding = binding
        else:
            await self._end(None)

    async def _begin(self, binding: TenantBinding) -> None:
        opened = self.db.connection(binding)
        self._connection = await opened.__aenter__()
        self._open, self._binding = opened, binding
        self.transactions += 1

    async def _end(self, error: BaseException | None) -> None:
        opened, self._open, self._connection, self._binding = self._open, None, None, None
        if opened is not None:
            # Committed when the request went well (a read has nothing to commit, but a
            # rollback is not cheaper), rolled back after a failure.
            await opened.__aexit__(type(error) if error else None, error, None)
