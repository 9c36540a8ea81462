"""Handling one outbox event: run its handlers once, whatever the number of deliveries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
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


async def handle_event(
    session: AsyncSession, workspace_id: UUID, event_id: UUID
) -> OutboxEvent | None:
    """Run the event's handlers and mark it processed, in the caller's transaction.

    Returns the event, or None when there is nothing to do: the event is unknown
    or another delivery already handled it. The row lock makes a concurrent second delivery
    wait, then see the event processed.
    """
    event = await session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.workspace_id == workspace_id, OutboxEvent.id == event_id)
        .with_for_update()
    )
    if event is None or event.processed_at is not None:
        return None
    for handler in handlers_for(event.event_type):
        await handler(session, event)
    event.processed_at = utcnow()
    return event


async def mark_dead_lettered(session: AsyncSession, workspace_id: UUID, event_id: UUID) -> None:
    """Its retries ran out: the relay leaves it to an admin's replay."""
    await _mark(session, workspace_id, event_id, dead_lettered_at=utcnow())


async def mark_replayed(session: AsyncSession, workspace_id: UUID, event_id: UUID) -> None:
    """Sent again by a replay: back in the relay's care, which resends it only if lost."""
    await _mark(
        session,
        workspace_id,
        event_id,
        dead_lettered_at=None,
        dispatched_at=utcnow(),
        dispatch_count=OutboxEvent.dispatch_count + 1,
    )


async def _mark(session: AsyncSession, workspace_id: UUID, event_id: UUID, **values: Any) -> None:
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.workspace_id == workspace_id, OutboxEvent.id == event_id)
        .values(**values)
    )
