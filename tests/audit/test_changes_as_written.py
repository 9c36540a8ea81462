"""An audit event's changes are kept as written (``WrittenJSON``): the text stored is the
very text the API writes for them, and what is read back is what was hashed (migration
0030, which rewrites the events stored before, is tested in tests/db/test_migrations.py).

jsonb rewrote each document: spaced out, and each number as numeric writes it, so a
float of 1e16 or more came back an integer, which hashes otherwise: that event's chain
read as broken though nobody had touched it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.audit.verify import verify_scope
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import AuditEvent
from backend.models.audit import AuditScope
from backend.vocabulary.audit import AuditAction
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.tenants import Tenant

# Numbers past the switches to an exponent (orjson's at 1e16 and 1e-5, Postgres' at
# 1e15 and 1e-4), big and small, nested, and text that JSON escapes or must not.
ODD = {
    "big": 1e16,
    "bigger": 1.2345e300,
    "small": 1.5e-7,
    "integral": 100.0,
    "negative zero": -0.0,  # numeric has none: jsonb gave 0.0 back
    "sum": 0.1 + 0.2,
    "integer": 12345678901234567,
    "nested": {"list": [1e22, {"z": None, "a": True}], "text": 'é \u2028 \x1f "q" \\ ☕'},
}


async def _record(database: Database, workspace_id: uuid.UUID, changes: dict[str, Any]) -> None:
    async with database.transaction(TenantBinding(frozenset({workspace_id}))) as session:
        audit.bind_actor(session, Actor.system())
        await audit.record(
            session,
            workspace_id=workspace_id,
            action=AuditAction.WORKSPACE_UPDATE,
            subject_type="Workspace",
            subject_id=workspace_id,
            changes=changes,
        )


async def test_changes_read_back_as_written_and_the_chain_holds(
    database: Database, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    await _record(database, ws, ODD)
    binding = TenantBinding(frozenset({ws}))
    async with database.transaction(binding) as session:
        report = await verify_scope(session, AuditScope.WORKSPACE, ws)
        [event] = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == AuditAction.WORKSPACE_UPDATE)
            )
        ).all()
    assert report.ok, report  # jsonb gave 1e16 back as an integer: "broken"
    assert event.changes == ODD
    assert [type(event.changes[k]) for k in ODD] == [type(v) for v in ODD.values()]
    if is_postgres_run():  # the very bytes the API writes, kept as they are
        async with inspector_engine.connect() as connection:
            stored = await connection.scalar(
                text("SELECT changes::text FROM audit_events WHERE id = :id"), {"id": event.id}
            )
        assert stored == orjson.dumps(ODD).decode()


async def test_a_change_json_cannot_write_is_refused_and_nothing_is_recorded(
    database: Database, tenant_a: Tenant
) -> None:
    """NaN and the infinities have no JSON text: stored, they would read back null and the
    chain would read as broken. Recording one fails, and the transaction writes nothing."""
    ws = tenant_a.workspace_ids[0]
    binding = TenantBinding(frozenset({ws}))
    async with database.transaction(binding) as session:
        before = len((await session.scalars(select(AuditEvent))).all())
    for odd in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="JSON compliant"):
            await _record(database, ws, {"score": {"before": 1.0, "after": odd}})
    async with database.transaction(binding) as session:
        assert len((await session.scalars(select(AuditEvent))).all()) == before
        assert (await verify_scope(session, AuditScope.WORKSPACE, ws)).ok
