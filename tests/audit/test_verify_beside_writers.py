"""`waypost audit verify` on a live system: a writer that commits while a chain is being
read must not make a sound chain look broken.

The check read the chain's head, a writer appended an event and moved the head, then the
check read the events: one more than the head it had read, "the chain ends at event N+1
but its head records event N", a false alarm for the operator. Each chain is now read in
one snapshot.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from backend.audit import recorder as audit
from backend.audit import verify
from backend.audit.actor import Actor
from backend.audit.reports import verify_chains
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models.audit import AuditScope
from tests.fixtures.audited import record_note
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.tenants import Tenant

pytestmark = pytest.mark.skipif(
    not is_postgres_run(), reason="SQLite: a reader and a writer never overlap this way"
)


async def _append(database: Database, ws: UUID, note: str) -> None:
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        audit.bind_actor(session, Actor.system())
        await record_note(session, ws, note)


async def test_a_chain_written_to_while_it_is_verified_verifies_sound(
    database: Database, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tenant_a.workspace_ids[0]
    for n in range(3):
        await _append(database, ws, f"before {n}")
    read_head = verify.head_of
    writes = 0

    async def head_then_a_write(*args: Any, **kwargs: Any) -> tuple[int, str | None]:
        nonlocal writes
        head = await read_head(*args, **kwargs)
        await _append(database, ws, "committed while the check reads")  # another connection
        writes += 1
        return head

    monkeypatch.setattr(verify, "head_of", head_then_a_write)
    [report] = [r async for r in verify_chains(database, [(AuditScope.WORKSPACE, ws)])]
    assert writes == 1
    assert (report.ok, report.problem) == (True, None)
    assert report.checked >= 3

    monkeypatch.setattr(verify, "head_of", read_head)
    [again] = [r async for r in verify_chains(database, [(AuditScope.WORKSPACE, ws)])]
    assert (again.ok, again.checked) == (True, report.checked + 1)  # the write is there
