"""The background audit check tells the truth while the chain grows: no false alarm under
concurrent writers, a real break reported, and a stored alarm looked at again."""

from __future__ import annotations

import asyncio
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.audit.chain import ChainReport
from backend.audit.verify import verify_workspace_increment
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import AuditEvent, AuditVerification
from tests.fixtures.audited import record_note
from tests.fixtures.tenants import Tenant

EVENTS = AuditEvent.__table__
WRITERS = 4
EVENTS_PER_WRITER = 25


def _bound(ws: UUID) -> TenantBinding:
    return TenantBinding(frozenset({ws}))


async def _append(database: Database, ws: UUID, count: int = 1) -> None:
    """Ordinary audited changes, each committed on its own as a mutation would."""
    for n in range(count):
        if n:
            # A moment between one caller's changes, as between requests: on SQLite,
            # writers that commit back to back in one process can hold the write lock
            # until they are done, and the check would then never run alongside them.
            await asyncio.sleep(0.002)
        async with database.transaction(_bound(ws), write=True) as session:
            audit.bind_actor(session, Actor.system())
            await record_note(session, ws, f"note {n}")


async def _check(database: Database, ws: UUID, *, scheduled: bool = True) -> ChainReport:
    """One run of the check, in its own transaction, as the worker's actors run it."""
    async with database.transaction(_bound(ws), write=True) as session:
        return await verify_workspace_increment(session, ws, reexamine_broken=scheduled)


async def _stored(database: Database, ws: UUID) -> AuditVerification:
    async with database.transaction(_bound(ws)) as session:
        stored = await session.get(AuditVerification, (ws, ws))
        assert stored is not None
        return stored


async def test_the_check_never_reports_broken_while_writers_append(
    database: Database, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    await _append(database, ws)
    rounds = [0]  # checks run so far

    async def writer() -> int:
        # Its events, and more until the check has run alongside a few times: on a loaded
        # machine a fixed number of events could all be written before the first check.
        written = 0
        while (written < EVENTS_PER_WRITER or rounds[0] < 3) and written < 50 * EVENTS_PER_WRITER:
            await _append(database, ws)
            written += 1
            await asyncio.sleep(0.002)  # a moment between one caller's changes
        return written

    writing = asyncio.gather(*(writer() for _ in range(WRITERS)))
    reports: list[ChainReport] = []
    while not writing.done():
        reports.append(await _check(database, ws))
        reports.append(await _check(database, ws, scheduled=False))  # an event's handler
        rounds[0] += 1
    written = sum(await writing)
    reports.append(await _check(database, ws))

    assert len(reports) > 4, "the writers finished before the check could run alongside"
    assert [r.problem for r in reports if not r.ok] == []
    stored = await _stored(database, ws)
    assert (stored.ok, stored.problem) == (True, None)
    assert stored.verified_sequence == 1 + written


async def test_a_tampered_chain_is_reported_and_stays_reported_while_tampered(
    database: Database, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    await _append(database, ws, 3)
    assert (await _check(database, ws)).ok
    await _append(database, ws, 2)
    where = (EVENTS.c.workspace_id == ws) & (EVENTS.c.sequence == 4)
    async with inspector_engine.begin() as conn:
        original = (await conn.execute(EVENTS.select().where(where))).one()._mapping["action"]
        await conn.execute(update(EVENTS).where(where).values(action="note.delete"))

    for scheduled in (False, True, True):  # found by a handler, then looked at again
        report = await _check(database, ws, scheduled=scheduled)
        assert (report.ok, report.problem) == (False, "event 4 was changed after writing")
        stored = await _stored(database, ws)
        assert (stored.ok, stored.problem, stored.verified_sequence) == (
            False,
            "event 4 was changed after writing",
            3,
        )

    # Repaired (restored from a backup, say): the next scheduled run clears the alarm
    # after verifying the whole chain; an event's handler alone does not.
    async with inspector_engine.begin() as conn:
        await conn.execute(update(EVENTS).where(where).values(action=original))
    assert not (await _check(database, ws, scheduled=False)).ok
    report = await _check(database, ws)
    assert (report.ok, report.last_sequence) == (True, 5)
    stored = await _stored(database, ws)
    assert (stored.ok, stored.problem, stored.verified_sequence) == (True, None, 5)


async def test_a_stored_alarm_the_chain_does_not_bear_out_is_cleared(
    database: Database, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    await _append(database, ws, 3)
    assert (await _check(database, ws)).ok
    # What the earlier check stored under concurrent writes: a false alarm.
    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(AuditVerification.__table__)
            .where(AuditVerification.__table__.c.workspace_id == ws)
            .values(
                ok=False,
                problem="the chain ends at event 4 but its head records event 3: events were "
                "deleted from the end, or added past it",
            )
        )
    await _append(database, ws, 1)
    report = await _check(database, ws)
    assert (report.ok, report.last_sequence) == (True, 4)
    stored = await _stored(database, ws)
    assert (stored.ok, stored.problem, stored.verified_sequence) == (True, None, 4)
