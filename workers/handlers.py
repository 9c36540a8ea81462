"""Who reacts to which domain event: the one place subscriptions are listed. It lives with
the workers because it names every domain; the outbox itself knows none of them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.verify import verify_workspace_increment
from backend.feedback.repository.count_parts import fold_count_parts
from backend.feedback.sentiment import score_feedback
from backend.health import backfill, recalculate
from backend.models.outbox import OutboxEvent
from backend.outbox.dispatch import EVERY_EVENT, subscribe

# Events after which the workspace's health is due for a pass (workers send it).
HEALTH_EVENTS = frozenset({"feedback.received", "journey_map.changed"})
# Events that may ask for past days' snapshots to be recomputed (workers send the job).
BACKFILL_EVENTS = frozenset({"feedback.received"})


async def _verify_audit_increment(session: AsyncSession, event: OutboxEvent) -> None:
    # Every change of a workspace was audited in the same transaction as its
    # event: checking the chain's new links keeps tampering from going unnoticed.
    await verify_workspace_increment(session, event.workspace_id)


async def _feedback_received(session: AsyncSession, event: OutboxEvent) -> None:
    ids = [UUID(i) for i in event.payload.get("feedback_ids", [])]
    attached = {UUID(t) for t in event.payload.get("touchpoint_ids", [])}
    # The insert that raised this event added a part to the workspace's count.
    await fold_count_parts(session, event.workspace_id)
    # Sentiment first: the health pass that follows reads the scores.
    attached |= await score_feedback(session, event.workspace_id, ids)
    # Feedback placed on a stage or map alone names no touchpoint: a pass still follows
    # (every pass refreshes the evidence of stages and maps).
    if attached or ids:
        await recalculate.request(
            session, event.workspace_id, recalculate.FEEDBACK_RECEIVED, sorted(attached)
        )
    # Feedback from before today: the history of the days it reaches is out of date.
    if "occurred_days" in event.payload:
        days = [date.fromisoformat(d) for d in event.payload["occurred_days"]]
        await backfill.request(
            session, event.workspace_id, *(datetime.combine(d, time.min, UTC) for d in days)
        )
    elif earliest := event.payload.get("earliest_occurred_at"):
        # An event raised before it listed its times: from its earliest up to yesterday.
        await backfill.request(
            session, event.workspace_id, datetime.fromisoformat(earliest), through=date.max
        )


async def _structure_changed(session: AsyncSession, event: OutboxEvent) -> None:
    # Pain points, emotions, moves and removals change scores, not evidence.
    await recalculate.request(session, event.workspace_id, recalculate.STRUCTURE_CHANGED)


def register_all() -> None:
    subscribe(EVERY_EVENT, _verify_audit_increment)
    subscribe("feedback.received", _feedback_received)
    subscribe("journey_map.changed", _structure_changed)
