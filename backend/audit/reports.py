"""Reading chains for operators: verify every chain, export one as NDJSON.

These are the CLI's whole work and open their own read transactions: each chain is
read under its own binding (its workspace), so one transaction cannot serve them all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from sqlalchemy import select

from backend.audit.chain import ChainReport
from backend.audit.verify import verify_scope
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.models import AccountAuditEvent, AuditEvent, ChainHead, Workspace
from backend.models.audit import AuditScope


async def all_chains(db: Database) -> list[tuple[AuditScope, UUID]]:
    """Every chain that has a head or events: a deleted head must not hide a chain."""
    async with db.transaction(NO_TENANT) as session:
        heads = (await session.execute(select(ChainHead.scope, ChainHead.scope_id))).all()
        account = (
            await session.execute(
                select(AccountAuditEvent.scope, AccountAuditEvent.scope_id).distinct()
            )
        ).all()
        workspaces = (await session.scalars(select(Workspace.id))).all()
    chains = {(AuditScope(scope), scope_id) for scope, scope_id in (*heads, *account)}
    chains |= {(AuditScope.WORKSPACE, workspace_id) for workspace_id in workspaces}
    return sorted(chains, key=lambda c: (c[0].value, str(c[1])))


def _binding(scope: AuditScope, scope_id: UUID) -> TenantBinding:
    return TenantBinding(frozenset({scope_id})) if scope is AuditScope.WORKSPACE else NO_TENANT


async def verify_chains(
    db: Database, chains: list[tuple[AuditScope, UUID]]
) -> AsyncIterator[ChainReport]:
    for scope, scope_id in chains:
        # One snapshot: a writer committing while the chain is read would otherwise add
        # events past the head read first, and a sound chain would look broken.
        async with db.transaction(_binding(scope, scope_id), snapshot=True) as session:
            yield await verify_scope(session, scope, scope_id)


def _as_json(event: AuditEvent | AccountAuditEvent, scope: AuditScope, scope_id: UUID) -> str:
    document: dict[str, Any] = {
        "scope": scope.value,
        "scope_id": str(scope_id),
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": {
            "type": event.actor_type.value,
            "user_id": str(event.actor_user_id) if event.actor_user_id else None,
            "token_id": str(event.actor_token_id) if event.actor_token_id else None,
        },
        "action": event.action,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "changes": event.changes,
        "request_id": event.request_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "key_id": event.key_id,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


async def export_chain(db: Database, scope: AuditScope, scope_id: UUID) -> AsyncIterator[str]:
    """The chain's events in order, one JSON document per line."""
    async with db.transaction(_binding(scope, scope_id)) as session:
        if scope is AuditScope.WORKSPACE:
            statement: Any = (
                select(AuditEvent)
                .where(AuditEvent.workspace_id == scope_id)
                .order_by(AuditEvent.sequence)
            )
        else:
            statement = (
                select(AccountAuditEvent)
                .where(AccountAuditEvent.scope == scope, AccountAuditEvent.scope_id == scope_id)
                .order_by(AccountAuditEvent.sequence)
            )
        async for event in await session.stream_scalars(statement.execution_options(yield_per=500)):
            yield _as_json(event, scope, scope_id)
