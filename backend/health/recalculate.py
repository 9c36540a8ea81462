"""Recalculating a workspace's health: pending requests in, stored scores and snapshots out.

A pass refreshes the evidence of the touchpoints that changed (every subject in a
full pass), then computes every score of the workspace from evidence and
structure: the second step reads a few rows per touchpoint, so it stays cheap
while the first, which reads feedback, touches only what moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend import gc_tuning
from backend.db.types import utcnow
from backend.health import alerts, model
from backend.health.repository import evidence, requests, scores
from backend.health.repository.facts import load_facts, load_structure, windows_of
from backend.models import HealthSubject

STRUCTURE_CHANGED = "structure"
FEEDBACK_RECEIVED = "feedback"


async def request(
    session: AsyncSession,
    workspace_id: UUID,
    reason: str,
    touchpoints: Iterable[UUID] = (),
) -> None:
    """Note what changed; the next pass for the workspace picks it up."""
    await requests.add(session, workspace_id, reason, touchpoints)


@dataclass(frozen=True)
class PassResult:
    full: bool
    requests: int
    subjects_refreshed: int
    health: model.WorkspaceHealth


async def recalculate(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    full: bool = False,
    as_of: datetime | None = None,
) -> PassResult | None:
    """One pass; None when nothing was pending (an earlier pass took this burst)."""
    # A full pass of a workspace of 2,000 touchpoints makes some 40,000 small objects.
    with gc_tuning.fewer_collections():
        return await _recalculate(session, workspace_id, full=full, as_of=as_of)


async def _recalculate(
    session: AsyncSession, workspace_id: UUID, *, full: bool, as_of: datetime | None
) -> PassResult | None:
    await requests.lock(session, workspace_id)
    as_of = as_of or utcnow()
    pending = await requests.take_pending(session, workspace_id)
    if not pending and not full:
        return None
    touched = {r.touchpoint_id for r in pending if r.touchpoint_id is not None}
    refreshed = await evidence.refresh(session, workspace_id, as_of, None if full else touched)
    # A full pass has just written every row of evidence there is: no need to read it back.
    found = windows_of(refreshed) if full else None
    health = model.compute(*await load_facts(session, workspace_id, found))
    await _store(session, workspace_id, health, as_of)
    return PassResult(full, len(pending), len(refreshed), health)


async def health_as_of(
    session: AsyncSession, workspace_id: UUID, as_of: datetime
) -> model.WorkspaceHealth:
    """Every score as of a past moment, straight from feedback: the stored evidence is
    neither read nor written. The structure (maps, pain points, emotions) is today's:
    structure keeps no history."""
    found = windows_of(await evidence.computed(session, workspace_id, as_of))
    return model.compute(*await load_structure(session, workspace_id, found))


def scored_subjects(health: model.WorkspaceHealth, workspace_id: UUID) -> list[scores.Scored]:
    """Every score of a pass, each with its subject's kind and id."""
    rows = [
        *((HealthSubject.TOUCHPOINT, i, s) for i, s in health.touchpoints.items()),
        *((HealthSubject.STAGE, i, s) for i, s in health.stages.items()),
        *((HealthSubject.JOURNEY_MAP, i, s) for i, s in health.maps.items()),
    ]
    if health.workspace is not None:
        rows.append((HealthSubject.WORKSPACE, workspace_id, health.workspace))
    return rows


async def _store(
    session: AsyncSession, workspace_id: UUID, health: model.WorkspaceHealth, as_of: datetime
) -> None:
    rows = scored_subjects(health, workspace_id)
    await scores.next_generation(session, workspace_id)
    replaced = await scores.scores_of_kinds(session, workspace_id, alerts.ALERTED)
    await alerts.record_crossings(session, workspace_id, replaced, rows)
    await scores.replace(session, workspace_id, rows, as_of)
