"""Handling one outbox event: run its handlers once, whatever the number of deliveries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.types import utcnow
from backend.models.outbox import OutboxEvent

Handler = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]

EVERY_EVENT = "*"
_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event_type: str, handler: Handler) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def handlers_for(event_type: str) -> list[Handler]:
    return [*_handlers[event_type], *_handlers[EVERY_EVENT]]


async def handle_event(session: AsyncSession, workspace_id: UUID, event_id: UUID) -> bool:
    """Run the event's handlers and mark it processed, in the caller's transaction.

    Returns False when there is nothing to do: the event is unknown or another
    delivery already handled it. The row lock makes a concurrent second delivery
    wait, then see the event processed.
    """
    event = await session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.workspace_id == workspace_id, OutboxEvent.id == event_id)
        .with_for_update()
    )
    if event is None or event.processed_at is not None:
        return False
    for handler in handlers_for(event.event_type):
        await handler(session, event)
    event.processed_at = utcnow()
    return True
