"""A chain's first event committed while the check reads it: the check waits for it.

The check locks the chain's head so that what it reads of the events afterwards is the
state the head describes. A chain's first writer inserts the head, and a lock holds
only a row that is there: the check read no head (0), the writer committed, the check
read event 1, and a sound chain was reported "added past its head" (a CI run of the
pipeline test caught it). The check now makes the head as writers do, and waits for
one making it.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.audit.verify import verify_workspace_increment
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from tests.fixtures.audited import record_note
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.tenants import Tenant

pytestmark = pytest.mark.skipif(
    not is_postgres_run(), reason="SQLite's write lock already serializes them"
)


async def test_a_check_beside_a_chains_first_writer_sees_the_chain_whole(
    database: Database, tenant_a: Tenant
) -> None:
    ws: UUID = tenant_a.workspace_ids[1]
    binding = TenantBinding(frozenset({ws}))
    writer_ready, writer_may_commit = asyncio.Event(), asyncio.Event()

    async def first_writer() -> None:
        async with database.transaction(binding, write=True) as session:
            audit.bind_actor(session, Actor.system())
            await record_note(session, ws, "first")
            await session.flush()  # the head row and event 1 are written, not committed
            writer_ready.set()
            await writer_may_commit.wait()

    async def check() -> bool:
        async with database.transaction(binding, write=True) as session:
            return (await verify_workspace_increment(session, ws)).ok

    writing = asyncio.create_task(first_writer())
    try:
        await asyncio.wait_for(writer_ready.wait(), 10)
        checking = asyncio.create_task(check())
        await asyncio.sleep(0.5)
        # The check waits on the writer's head; before the fix it read "no head" at once.
        waited = not checking.done()
        writer_may_commit.set()
        await asyncio.wait_for(writing, 10)
        assert await asyncio.wait_for(checking, 10)
        assert waited
    finally:
        writer_may_commit.set()  # never leave the writer's transaction open
        await asyncio.wait_for(writing, 10)
