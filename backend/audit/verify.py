"""Verifying audit chains: whole chains (CLI) and a workspace's new events (worker)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.chain import GENESIS, ChainReport, Position, verify_chain
from backend.crypto.audit_keys import LEGACY_KEY_ID, keyring_of
from backend.db.types import utcnow
from backend.models.audit import (
    AccountAuditEvent,
    AuditEvent,
    AuditScope,
    AuditVerification,
    ChainHead,
)

BATCH = 1000

log = logging.getLogger("waypost.audit")


async def head_of(
    session: AsyncSession, scope: AuditScope, scope_id: UUID, *, hold: bool = False
) -> tuple[int, str | None]:
    """The chain's head. ``hold``: on Postgres, also keep writers of the chain waiting
    until this transaction ends (a shared lock on the row each writer locks to append),
    so what is read of the chain afterwards is the state this head describes."""
    statement = select(ChainHead.audit_sequence, ChainHead.audit_hash).where(
        ChainHead.scope == scope, ChainHead.scope_id == scope_id
    )
    if hold and session.get_bind().dialect.name == "postgresql":
        # A lock holds only a row that is there: a chain's first writer, inserting its
        # head, would commit between this read (no head: 0) and the events' (event 1),
        # and a sound chain would read "added past its head". The head is made here
        # first, as writers make it (waiting for one that is making it).
        await session.execute(
            postgresql.insert(ChainHead)
            .values(scope=scope, scope_id=scope_id, audit_sequence=0, outbox_sequence=0)
            .on_conflict_do_nothing()
        )
        statement = statement.with_for_update(read=True)
    head = (await session.execute(statement)).one_or_none()
    return (head[0], head[1]) if head else (0, None)


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
    hold_head: bool = False,
) -> ChainReport:
    """Verify one chain from ``start`` to its head, reading it in batches.

    Read committed, each statement sees the commits made since the one before: the
    caller gives one snapshot (a repeatable-read transaction) or ``hold_head``
    (writers wait), or a writer committing between the head and the events makes a
    sound chain look "added past its head".
    """
    keys = keyring_of(session.sync_session)
    head = await head_of(session, scope, scope_id, hold=hold_head)
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


async def _take_turns(session: AsyncSession, workspace_id: UUID) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # The scheduled checks and an event's handler may verify the same chain at once:
        # both would create the first checkpoint, and one would fail on the key. They
        # take turns instead (SQLite's write lock does this there).
        await session.execute(
            text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"waypost.audit-verify:{workspace_id}"},
        )


async def _checkpoint(session: AsyncSession, workspace_id: UUID) -> AuditVerification:
    checkpoint = await session.get(AuditVerification, (workspace_id, workspace_id))
    if checkpoint is None:
        checkpoint = AuditVerification(workspace_id=workspace_id, id=workspace_id)
        session.add(checkpoint)
    return checkpoint


async def record_full_verification(
    session: AsyncSession, workspace_id: UUID, report: ChainReport
) -> None:
    """Store what a verification of the whole chain (read in one snapshot) found broken:
    the alarm, and the chain verified only up to the last sound event before the break.
    A sound chain changes nothing: the checkpoint is the hourly check's."""
    if report.ok:
        return
    await _take_turns(session, workspace_id)
    checkpoint = await _checkpoint(session, workspace_id)
    checkpoint.verified_at = utcnow()
    checkpoint.ok = False
    checkpoint.problem = report.problem
    checkpoint.verified_sequence = report.last_sequence
    checkpoint.verified_hash = report.last_hash


async def verify_workspace_increment(
    session: AsyncSession, workspace_id: UUID, *, reexamine_broken: bool = False
) -> ChainReport:
    """Verify what a workspace's chain gained since the last checkpoint, and move it.

    Idempotent: run twice on the same chain, it ends at the same checkpoint. The chain
    is read as one state (writers of the workspace wait meanwhile), and a break found
    in the increment is confirmed by verifying the whole chain before it is stored. A
    stored break is returned as is, unless ``reexamine_broken`` (the scheduled check):
    then the whole chain is verified again, and the alarm clears if it passes.
    """
    await _take_turns(session, workspace_id)
    checkpoint = await _checkpoint(session, workspace_id)
    alarm = checkpoint.problem if not checkpoint.ok else None
    if alarm and not reexamine_broken:
        return ChainReport(
            AuditScope.WORKSPACE,
            workspace_id,
            0,
            checkpoint.verified_sequence,
            checkpoint.verified_hash or GENESIS,
            alarm,
        )
    start = (checkpoint.verified_sequence or 0, checkpoint.verified_hash or GENESIS)
    if alarm:
        start = (0, GENESIS)
    report = await verify_scope(
        session, AuditScope.WORKSPACE, workspace_id, start=start, hold_head=True
    )
    if not report.ok and start[0]:
        # Never alarm on an increment alone: the whole chain, from its first event.
        report = await verify_scope(session, AuditScope.WORKSPACE, workspace_id, hold_head=True)
    if alarm and report.ok:
        log.warning(
            "audit chain of workspace %s verifies in full again (%d events); the alarm "
            "stored earlier is cleared: %s",
            workspace_id,
            report.checked,
            alarm,
        )
    checkpoint.verified_at = utcnow()
    checkpoint.ok = report.ok
    checkpoint.problem = report.problem
    if report.ok:
        checkpoint.verified_sequence = report.last_sequence
        checkpoint.verified_hash = report.last_hash
    return report
