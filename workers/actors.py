"""The actors: thin wrappers that open a workspace-bound transaction and call backend."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import dramatiq

from backend.audit.verify import (
    record_full_verification,
    verify_scope,
    verify_workspace_increment,
)
from backend.feedback.repository.count_parts import fold_count_parts
from backend.health import backfill, recalculate
from backend.journeys import maps
from backend.models.audit import AuditScope
from backend.outbox.dispatch import handle_event
from workers.handlers import BACKFILL_EVENTS, HEALTH_EVENTS, register_all
from workers.runtime import workspace_snapshot, workspace_transaction

log = logging.getLogger("waypost.workers")

# Retries with exponential backoff (dramatiq's Retries middleware), then the
# dead-letter table.
RETRIES: dict[str, Any] = {"max_retries": 8, "min_backoff": 1_000, "max_backoff": 300_000}
OUTBOX_DISPATCH = "outbox.dispatch"
# Backfill steps have their own queue: a long backfill never waits ahead of the passes
# of every tenant (workers consume every queue declared, in both broker modes).
HEALTH_QUEUE = "health"
BACKFILL_QUEUE = "health_backfill"


def outbox_event_of(actor_name: str, args: Sequence[Any]) -> tuple[UUID, UUID] | None:
    """The (workspace, event) an outbox.dispatch message carries; None for other actors."""
    if actor_name != OUTBOX_DISPATCH or len(args) != 2:
        return None
    return UUID(str(args[0])), UUID(str(args[1]))


async def dispatch_outbox_event(workspace_id: str, event_id: str) -> str | None:
    """Run the handlers of one outbox event, once, however often it is delivered.

    The event's type, for the caller to send the health jobs it asks for; None when
    an earlier delivery handled it.
    """
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace, request_id=f"outbox:{event_id}") as session:
        event = await handle_event(session, workspace, UUID(event_id))
        return None if event is None else event.event_type


async def recalculate_health(workspace_id: str) -> None:
    """Take the workspace's pending health requests in one pass (none: nothing to do)."""
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace, request_id="health:recalculate") as session:
        done = await recalculate.recalculate(session, workspace)
    if done is not None:
        log.info(
            "health of workspace %s: %d requests, %d subjects' evidence refreshed",
            workspace,
            done.requests,
            done.subjects_refreshed,
        )


async def recalculate_all_health(workspace_id: str) -> None:
    """The scheduled full pass: every touchpoint's evidence anew, and today's snapshot."""
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace, request_id="health:full") as session:
        await recalculate.recalculate(session, workspace, full=True)


async def backfill_health_step(workspace_id: str) -> bool:
    """Recompute the next days of the workspace's pending backfill; True when more remain."""
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace, request_id="health:backfill") as session:
        done = await backfill.step(session, workspace)
    if done.days:
        log.info(
            "health history of workspace %s recomputed from %s to %s",
            workspace,
            done.days[0],
            done.days[-1],
        )
    return done.next_from is not None


async def verify_audit_chain(workspace_id: str) -> None:
    """Check the links a workspace's audit chain gained since the last check; a chain
    found broken before is verified in full again (its alarm clears if it passes)."""
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace) as session:
        report = await verify_workspace_increment(session, workspace, reexamine_broken=True)
    if not report.ok:
        log.error("audit chain of workspace %s is broken: %s", workspace, report.problem)


async def verify_audit_chain_in_full(workspace_id: str) -> None:
    """Check a workspace's whole chain, as read in one snapshot (writers never wait for
    it): an event edited after the hourly check passed it is found here. A break is
    stored, as the hourly check stores one, and shown to the workspace's admins."""
    workspace = UUID(workspace_id)
    async with workspace_snapshot(workspace) as session:
        report = await verify_scope(session, AuditScope.WORKSPACE, workspace)
    if report.ok:
        return
    async with workspace_transaction(workspace) as session:
        await record_full_verification(session, workspace, report)
    log.error("audit chain of workspace %s is broken: %s", workspace, report.problem)


async def purge_deleted_maps(workspace_id: str) -> None:
    """Remove maps deleted longer ago than their restore window."""
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace) as session:
        purged = await maps.purge_deleted_maps(session, workspace)
    if purged:
        log.info("purged %d deleted journey maps of workspace %s", purged, workspace)


async def fold_feedback_counts(workspace_id: str) -> None:
    """Fold the workspace's feedback count parts into one: the ``feedback.received``
    handler does so at each event; this hourly pass catches what a dead-lettered event
    (or a delete, which raises none) left."""
    workspace = UUID(workspace_id)
    async with workspace_transaction(workspace) as session:
        await fold_count_parts(session, workspace)


@dataclass(frozen=True)
class Actors:
    dispatch_outbox_event: dramatiq.Actor[[str, str], None]
    verify_audit_chain: dramatiq.Actor[[str], None]
    verify_audit_chain_in_full: dramatiq.Actor[[str], None]
    purge_deleted_maps: dramatiq.Actor[[str], None]
    fold_feedback_counts: dramatiq.Actor[[str], None]
    recalculate_health: dramatiq.Actor[[str], None]
    recalculate_all_health: dramatiq.Actor[[str], None]
    backfill_health: dramatiq.Actor[[str], None]

    def periodic(self) -> list[dramatiq.Actor[[str], None]]:
        """The per-workspace housekeeping the schedule runs (a backfill step too: it
        resumes a backfill whose next message was lost, and finds nothing otherwise)."""
        return [
            self.verify_audit_chain,
            self.purge_deleted_maps,
            self.fold_feedback_counts,
            self.backfill_health,
        ]


def declare_actors(broker: dramatiq.Broker, *, health_coalesce_ms: int = 500) -> Actors:
    register_all()
    health = dramatiq.actor(
        broker=broker, actor_name="health.recalculate", queue_name=HEALTH_QUEUE, **RETRIES
    )(recalculate_health)

    async def backfill_step(workspace_id: str) -> None:
        # One bounded step a message: the next is a message of its own.
        if await backfill_health_step(workspace_id):
            history.send(workspace_id)

    backfill_step.__name__ = backfill_step.__qualname__ = "backfill_health"
    history = dramatiq.actor(
        broker=broker, actor_name="health.backfill", queue_name=BACKFILL_QUEUE, **RETRIES
    )(backfill_step)

    async def dispatch(workspace_id: str, event_id: str) -> None:
        event_type = await dispatch_outbox_event(workspace_id, event_id)
        # Sent after the commit, delayed so a burst lands in one pass; the passes
        # (and backfill steps) a burst sends after the first find nothing left and return.
        if event_type in HEALTH_EVENTS:
            health.send_with_options(args=(workspace_id,), delay=health_coalesce_ms)
        if event_type in BACKFILL_EVENTS:
            history.send_with_options(args=(workspace_id,), delay=health_coalesce_ms)

    dispatch.__name__ = dispatch.__qualname__ = "dispatch_outbox_event"
    return Actors(
        dispatch_outbox_event=dramatiq.actor(
            broker=broker, actor_name=OUTBOX_DISPATCH, queue_name="outbox", **RETRIES
        )(dispatch),
        recalculate_health=health,
        backfill_health=history,
        recalculate_all_health=dramatiq.actor(
            broker=broker, actor_name="health.recalculate_all", queue_name=HEALTH_QUEUE, **RETRIES
        )(recalculate_all_health),
        verify_audit_chain=dramatiq.actor(
            broker=broker, actor_name="audit.verify", queue_name="maintenance", **RETRIES
        )(verify_audit_chain),
        verify_audit_chain_in_full=dramatiq.actor(
            broker=broker, actor_name="audit.verify_in_full", queue_name="maintenance", **RETRIES
        )(verify_audit_chain_in_full),
        purge_deleted_maps=dramatiq.actor(
            broker=broker, actor_name="journeys.purge", queue_name="maintenance", **RETRIES
        )(purge_deleted_maps),
        fold_feedback_counts=dramatiq.actor(
            broker=broker, actor_name="feedback.fold_counts", queue_name="maintenance", **RETRIES
        )(fold_feedback_counts),
    )
