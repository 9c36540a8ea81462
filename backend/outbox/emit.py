"""Writing a domain event to the outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.audit.chain import to_json_value
from backend.audit.heads import locked_head
from backend.models.audit import AuditScope
from backend.models.outbox import OutboxEvent

_EMITTED = "outbox_emitted"

# Called after a commit that emitted events, so a relay can hand them over at
# once instead of at its next poll. Registered by whoever runs a relay here.
after_commit_hooks: list[Callable[[], None]] = []


async def emit(
    session: AsyncSession, workspace_id: UUID, event_type: str, payload: dict[str, Any]
) -> OutboxEvent:
    head = await locked_head(session, AuditScope.WORKSPACE, workspace_id)
    head.outbox_sequence += 1
    outbox_event = OutboxEvent(
        workspace_id=workspace_id,
        sequence=head.outbox_sequence,
        event_type=event_type,
        payload=to_json_value(payload),
    )
    session.add(outbox_event)
    session.info[_EMITTED] = True
    return outbox_event


@event.listens_for(Session, "after_commit")
def _nudge_relays(session: Session) -> None:
    if session.info.pop(_EMITTED, False):
        for hook in after_commit_hooks:
            hook()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_EMITTED, None)
