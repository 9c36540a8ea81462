"""What a pass scores from: a workspace's live structure and stored evidence, as model facts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.health import model
from backend.health.repository import evidence
from backend.models import HealthEvidence, JourneyMap, PainPoint, Stage, Touchpoint
from backend.vocabulary.journeys import MapStatus, PainPointStatus, Scenario, Severity

Facts = tuple[list[model.TouchpointFacts], list[model.StageFacts], list[model.MapFacts]]


async def load_facts(session: AsyncSession, workspace_id: UUID, as_of: datetime) -> Facts:
    maps = (
        await session.execute(
            select(JourneyMap.id, JourneyMap.status, JourneyMap.scenario).where(
                JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None)
            )
        )
    ).all()
    live = {m.id for m in maps}
    stages = [
        model.StageFacts(s.id, s.journey_map_id)
        for s in (
            await session.execute(
                select(Stage.id, Stage.journey_map_id)
                .where(Stage.workspace_id == workspace_id)
                .order_by(Stage.journey_map_id, Stage.position)
            )
        ).all()
        if s.journey_map_id in live
    ]
    pains: dict[UUID, list[Severity]] = defaultdict(list)
    for touchpoint_id, severity in (
        await session.execute(
            select(PainPoint.touchpoint_id, PainPoint.severity).where(
                PainPoint.workspace_id == workspace_id,
                PainPoint.status == PainPointStatus.OPEN,
            )
        )
    ).all():
        pains[touchpoint_id].append(severity)
    found = {
        row[0]: row
        for row in (
            await session.execute(
                select(*_EVIDENCE_COLUMNS).where(HealthEvidence.workspace_id == workspace_id)
            )
        ).all()
    }
    touchpoints = [
        model.TouchpointFacts(
            id=t.id,
            stage_id=t.stage_id,
            journey_map_id=t.journey_map_id,
            moment_of_truth=t.moment_of_truth,
            emotion=t.emotion,
            open_pains=tuple(sorted(pains.get(t.id, ()))),
            current=_evidence(found.get(t.id), as_of, previous=False),
            previous=_evidence(found.get(t.id), as_of, previous=True),
        )
        for t in (
            await session.execute(
                select(
                    Touchpoint.id,
                    Touchpoint.stage_id,
                    Touchpoint.journey_map_id,
                    Touchpoint.moment_of_truth,
                    Touchpoint.emotion,
                )
                .where(Touchpoint.workspace_id == workspace_id)
                .order_by(Touchpoint.stage_id, Touchpoint.position)
            )
        ).all()
        if t.journey_map_id in live
    ]
    journey_maps = [
        model.MapFacts(m.id, m.status == MapStatus.ACTIVE and m.scenario == Scenario.CURRENT_STATE)
        for m in maps
    ]
    return touchpoints, stages, journey_maps


# id, as_of, then the current window's seven sums and the previous window's seven.
_EVIDENCE_COLUMNS = (
    HealthEvidence.id,
    HealthEvidence.as_of,
    *(getattr(HealthEvidence, name) for name in evidence.COLUMNS),
    *(getattr(HealthEvidence, f"previous_{name}") for name in evidence.COLUMNS),
)


def _evidence(row: Sequence[Any] | None, as_of: datetime, *, previous: bool) -> model.Evidence:
    if row is None:
        return model.NO_EVIDENCE
    # Positions follow _EVIDENCE_COLUMNS; within a window, evidence.COLUMNS' order:
    # satisfaction's three, sentiment's three, items.
    at = 2 + (len(evidence.COLUMNS) if previous else 0)
    found = model.Evidence(
        model.Tally(row[at], row[at + 1], row[at + 2]),
        model.Tally(row[at + 3], row[at + 4], row[at + 5]),
        row[at + 6],
    )
    # Rows refreshed at different moments are weighed as of this pass.
    evidence_as_of = row[1]
    if evidence_as_of == as_of:
        return found
    return found.scaled(model.decay_factor(evidence_as_of, as_of))
