"""Per-scope head rows, locked once per transaction by whoever appends to a chain.

The row lock serializes concurrent writers of one workspace (or organization,
or user) on Postgres; on SQLite every writer already holds the database's write
lock. Either way a chain cannot fork and outbox numbers follow commit order.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.models.audit import AuditScope, ChainHead

_LOCKED = "locked_chain_heads"


async def locked_head(session: AsyncSession, scope: AuditScope, scope_id: UUID) -> ChainHead:
    """The head of a scope, created if new, locked until this transaction ends."""
    cache: dict[tuple[AuditScope, UUID], ChainHead] = session.info.setdefault(_LOCKED, {})
    head = cache.get((scope, scope_id))
    if head is not None:
        return head
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(ChainHead)
        .values(scope=scope, scope_id=scope_id, audit_sequence=0, outbox_sequence=0)
        .on_conflict_do_nothing()
    )
    head = (
        await session.scalars(
            select(ChainHead)
            .where(ChainHead.scope == scope, ChainHead.scope_id == scope_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    cache[(scope, scope_id)] = head
    return head


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_locks(session: Session) -> None:
    # Locks end with the transaction; so must our memory of holding them.
    session.info.pop(_LOCKED, None)
