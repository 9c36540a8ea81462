"""Replaying dead letters: each goes back to its actor once, and is marked replayed."""

from __future__ import annotations

import asyncio
from uuid import UUID

from sqlalchemy import select

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.db.types import utcnow
from backend.models import Workspace
from backend.models.outbox import DeadLetter
from backend.outbox.dispatch import mark_replayed
from backend.settings import Settings
from workers.actors import outbox_event_of
from workers.background import create_broker


async def replay_dead_letters(
    settings: Settings,
    db: Database,
    *,
    workspace_id: UUID | None = None,
    letter_id: UUID | None = None,
) -> int:
    broker, _actors = create_broker(settings)
    try:
        if workspace_id is not None:
            workspaces = [workspace_id]
        else:
            async with db.transaction(NO_TENANT) as session:
                workspaces = list((await session.scalars(select(Workspace.id))).all())
        replayed = 0
        for workspace in workspaces:
            binding = TenantBinding(frozenset({workspace}))
            async with db.transaction(binding, write=True) as session:
                statement = select(DeadLetter).where(
                    DeadLetter.workspace_id == workspace, DeadLetter.replayed_at.is_(None)
                )
                if letter_id is not None:
                    statement = statement.where(DeadLetter.id == letter_id)
                for letter in (await session.scalars(statement.with_for_update())).all():
                    actor = broker.get_actor(letter.actor)
                    await asyncio.to_thread(
                        actor.send_with_options, args=tuple(letter.args), kwargs=letter.kwargs
                    )
                    letter.replayed_at = utcnow()
                    if (event := outbox_event_of(letter.actor, letter.args)) is not None:
                        await mark_replayed(session, *event)
                    replayed += 1
        return replayed
    finally:
        await asyncio.to_thread(broker.close)
