"""Verifying audit chains: whole chains (CLI) and a workspace's new events (worker)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.chain import GENESIS, ChainReport, Position, verify_chain
from backend.audit.keys import LEGACY_KEY_ID, keyring_of
from backend.db.types import utcnow
from backend.models.audit import (
    AccountAuditEvent,
    AuditEvent,
    AuditScope,
    AuditVerification,
    ChainHead,
)

BATCH = 1000


async def head_of(
    session: AsyncSession, scope: AuditScope, scope_id: UUID
) -> tuple[int, str | None]:
    head = await session.scalar(
        select(ChainHead).where(ChainHead.scope == scope, ChainHead.scope_id == scope_id)
    )
    return (head.audit_sequence, head.audit_hash) if head else (0, None)


async def chain_ids(session: AsyncSession, scope: AuditScope) -> Sequence[UUID]:
    return (
        await session.scalars(
            select(ChainHead.scope_id).where(ChainHead.scope == scope).order_by(ChainHead.scope_id)
        )
    ).all()


async def _events_after(
    session: AsyncSession, scope: AuditScope, scope_id: UUID, sequence: int
) -> Sequence[AuditEvent | AccountAuditEvent]:
    if scope is AuditScope.WORKSPACE:
        return (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.workspace_id == scope_id, AuditEvent.sequence > sequence)
                .order_by(AuditEvent.sequence)
                .limit(BATCH)
            )
        ).all()
    return (
        await session.scalars(
            select(AccountAuditEvent)
            .where(
                AccountAuditEvent.scope == scope,
                AccountAuditEvent.scope_id == scope_id,
                AccountAuditEvent.sequence > sequence,
            )
            .order_by(AccountAuditEvent.sequence)
            .limit(BATCH)
        )
    ).all()


async def _key_id_at(
    session: AsyncSession, scope: AuditScope, scope_id: UUID, sequence: int
) -> str | None:
    if scope is AuditScope.WORKSPACE:
        statement = select(AuditEvent.key_id).where(
            AuditEvent.workspace_id == scope_id, AuditEvent.sequence == sequence
        )
    else:
        statement = select(AccountAuditEvent.key_id).where(
            AccountAuditEvent.scope == scope,
            AccountAuditEvent.scope_id == scope_id,
            AccountAuditEvent.sequence == sequence,
        )
    return await session.scalar(statement)


async def verify_scope(
    session: AsyncSession,
    scope: AuditScope,
    scope_id: UUID,
    *,
    start: tuple[int, str] = (0, GENESIS),
) -> ChainReport:
    """Verify one chain from ``start`` to its head, reading it in batches."""
    keys = keyring_of(session.sync_session)
    head = await head_of(session, scope, scope_id)
    position = Position(*start)
    if position.sequence and (
        await _key_id_at(session, scope, scope_id, position.sequence) == LEGACY_KEY_ID
    ):
        # A checkpoint among unkeyed events, from before chains were keyed: whether a
        # seal vouches for them is only known from the start.
        position = Position()
    checked = 0
    while True:
        batch = await _events_after(session, scope, scope_id, position.sequence)
        # A gap just past the batch start shows up as a sequence mismatch below.
        report = verify_chain(
            scope, scope_id, batch, keys=keys, head=head, start=position, check_head=False
        )
        checked += report.checked
        if not report.ok:
            return replace(report, checked=checked)
        position = report.position
        if len(batch) < BATCH:
            break
    final = verify_chain(scope, scope_id, [], keys=keys, head=head, start=position)
    return replace(final, checked=checked)


async def verify_workspace_increment(session: AsyncSession, workspace_id: UUID) -> ChainReport:
    """Verify what a workspace's chain gained since the last checkpoint, and move it.

    Idempotent: run twice on the same chain, it ends at the same checkpoint. A
    broken chain stays recorded as broken (with the problem) until an operator acts.
    """
    if session.get_bind().dialect.name == "postgresql":
        # The scheduled check and an event's handler may verify the same chain at once:
        # both would create the first checkpoint, and one would fail on the key. They
        # take turns instead (SQLite's write lock does this there).
        await session.execute(
            text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"waypost.audit-verify:{workspace_id}"},
        )
    checkpoint = await session.get(AuditVerification, (workspace_id, workspace_id))
    if checkpoint is None:
        checkpoint = AuditVerification(workspace_id=workspace_id, id=workspace_id)
        session.add(checkpoint)
    if not checkpoint.ok and checkpoint.problem:
        return ChainReport(
            AuditScope.WORKSPACE,
            workspace_id,
            0,
            checkpoint.verified_sequence,
            checkpoint.verified_hash or GENESIS,
            checkpoint.problem,
        )
    start = (checkpoint.verified_sequence or 0, checkpoint.verified_hash or GENESIS)
    report = await verify_scope(session, AuditScope.WORKSPACE, workspace_id, start=start)
    checkpoint.verified_at = utcnow()
    checkpoint.ok = report.ok
    checkpoint.problem = report.problem
    if report.ok:
        checkpoint.verified_sequence = report.last_sequence
        checkpoint.verified_hash = report.last_hash
    return report
