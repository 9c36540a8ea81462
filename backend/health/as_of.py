"""Every score of a workspace as it stood at a past moment, straight from feedback.

A pass scores from stored evidence rows, which only ever describe now. Recomputing a
past day (a backfill) sums the feedback as of that moment in memory instead, with the
same grouped statement a pass uses, and scores it against today's structure: pain
points, emotions and the map's shape have no history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.health import model
from backend.health.repository import evidence
from backend.health.repository.facts import load_facts


async def health_as_of(
    session: AsyncSession, workspace_id: UUID, as_of: datetime
) -> model.WorkspaceHealth:
    """The workspace's health at ``as_of``: only feedback that had happened by then counts."""
    statement = evidence.evidence_statement(
        session.get_bind().dialect.name, workspace_id, as_of, None
    )
    found = {row[0]: row for row in (await session.execute(statement)).all()}
    touchpoints, stages, maps = await load_facts(session, workspace_id, as_of)
    dated = [
        replace(
            t,
            current=_evidence(found.get(t.id), previous=False),
            previous=_evidence(found.get(t.id), previous=True),
        )
        for t in touchpoints
    ]
    return model.compute(dated, stages, maps)


def _evidence(row: Sequence[Any] | None, *, previous: bool) -> model.Evidence:
    """One window of an ``evidence_statement`` row: the touchpoint id, then each window's
    sums in ``evidence.COLUMNS`` order (satisfaction's three, sentiment's three, items)."""
    if row is None:
        return model.NO_EVIDENCE
    at = 1 + (len(evidence.COLUMNS) if previous else 0)
    return model.Evidence(
        model.Tally(float(row[at]), float(row[at + 1]), int(row[at + 2])),
        model.Tally(float(row[at + 3]), float(row[at + 4]), int(row[at + 5])),
        int(row[at + 6]),
    )
