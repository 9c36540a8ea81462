"""Who reacts to which domain event: the one place subscriptions are listed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.verify import verify_workspace_increment
from backend.models.outbox import OutboxEvent
from backend.outbox.dispatch import EVERY_EVENT, subscribe


async def _verify_audit_increment(session: AsyncSession, event: OutboxEvent) -> None:
    # Every change of a workspace was audited in the same transaction as its
    # event: checking the chain's new links keeps tampering from going unnoticed.
    await verify_workspace_increment(session, event.workspace_id)


def register_all() -> None:
    subscribe(EVERY_EVENT, _verify_audit_increment)
