"""The outbox shares the fate of its transaction: rolled back, nothing is left."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor, record
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import AuditEvent, ChainHead, OutboxEvent
from backend.models.audit import AuditScope
from backend.outbox import emit as outbox
from tests.fixtures.tenants import Tenant


class Abort(Exception):
    """Raised inside a transaction to roll it back."""


def _bound(workspace: UUID) -> TenantBinding:
    return TenantBinding(frozenset({workspace}))


async def _change(database: Database, workspace: UUID, n: int, *, fail: bool = False) -> None:
    """What a service does: audit the change and emit its event, then commit or fail."""
    async with database.transaction(_bound(workspace), write=True) as session:
        bind_actor(session, Actor.system())
        await record(
            session,
            action="test.change",
            subject_type="Workspace",
            subject_id=workspace,
            changes={"n": {"before": None, "after": n}},
            workspace_id=workspace,
        )
        await outbox.emit(session, workspace, "test.changed", {"n": n})
        await session.flush()  # the rows reach the database before the failure
        if fail:
            raise Abort


async def _state(database: Database, workspace: UUID) -> tuple[list[int], list[int], int]:
    """(outbox payload numbers, audit sequences, outbox head) of one workspace."""
    async with database.transaction(_bound(workspace)) as session:
        events = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.workspace_id == workspace)
                .order_by(OutboxEvent.sequence)
            )
        ).all()
        audited = (
            await session.scalars(
                select(AuditEvent.sequence)
                .where(AuditEvent.workspace_id == workspace)
                .order_by(AuditEvent.sequence)
            )
        ).all()
        head = await session.get(ChainHead, (AuditScope.WORKSPACE, workspace))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    return [e.payload["n"] for e in events], list(audited), head.outbox_sequence if head else 0


async def test_a_rolled_back_emit_leaves_no_outbox_row_and_no_audit_event(
    database: Database, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tenant_a.workspace_ids[0]
    nudges: list[UUID] = []
    monkeypatch.setattr(outbox, "after_commit_hooks", [lambda: nudges.append(uuid4())])
    with pytest.raises(Abort):
        await _change(database, workspace, 1, fail=True)
    assert await _state(database, workspace) == ([], [], 0)
    assert nudges == []  # no relay is woken for an event that never existed


async def test_a_committed_emit_is_there_with_its_workspace_next_sequence(
    database: Database, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, other = tenant_a.workspace_ids
    nudges: list[UUID] = []
    monkeypatch.setattr(outbox, "after_commit_hooks", [lambda: nudges.append(uuid4())])
    await _change(database, first, 1)
    assert await _state(database, first) == ([1], [1], 1)
    # A rolled-back event between two committed ones uses up no number.
    with pytest.raises(Abort):
        await _change(database, first, 2, fail=True)
    await _change(database, first, 3)
    assert await _state(database, first) == ([1, 3], [1, 2], 2)
    # Numbers are per workspace: another one starts at 1.
    await _change(database, other, 4)
    assert await _state(database, other) == ([4], [1], 1)
    assert len(nudges) == 3  # one per commit that emitted
