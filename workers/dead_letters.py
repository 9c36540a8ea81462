"""Messages whose retries ran out are kept in the database, for admins to see and replay."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import dramatiq
from dramatiq.asyncio import get_event_loop_thread

from backend.db.scoping import TenantBinding
from backend.models.outbox import DeadLetter
from backend.outbox.dispatch import mark_dead_lettered
from workers.actors import outbox_event_of
from workers.runtime import runtime

log = logging.getLogger("waypost.workers")
MAX_ERROR_LENGTH = 4000


def workspace_of(message: Any) -> UUID | None:
    """Every actor takes the workspace it acts for as its first argument."""
    raw = message.kwargs.get("workspace_id") or (message.args[0] if message.args else None)
    try:
        return UUID(str(raw))
    except ValueError:
        return None


class DeadLetters(dramatiq.Middleware):
    """Its after-hook runs after Retries': a message Retries failed is stored, not dropped."""

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        workspace_id = workspace_of(message)
        if workspace_id is None:
            log.error("dropping failed message %s: no workspace", message.message_id)
            return
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None, "the AsyncIO middleware runs before this one"
        loop_thread.run_coroutine(_store(workspace_id, message, exception))


async def _store(workspace_id: UUID, message: Any, exception: BaseException) -> None:
    async with runtime().db.transaction(TenantBinding(frozenset({workspace_id})), write=True) as s:
        s.add(
            DeadLetter(
                workspace_id=workspace_id,
                actor=message.actor_name,
                queue=message.queue_name,
                message_id=message.message_id,
                args=list(message.args),
                kwargs=dict(message.kwargs),
                error=f"{type(exception).__name__}: {exception}"[:MAX_ERROR_LENGTH],
                # Retries counts the final failure too before giving up.
                retries=max(int(message.options.get("retries", 0)) - 1, 0),
            )
        )
        # The relay must not send a dead event again behind the letter's back.
        if (event := outbox_event_of(message.actor_name, message.args)) is not None:
            await mark_dead_lettered(s, *event)
