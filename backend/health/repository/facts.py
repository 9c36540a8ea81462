"""What a pass scores from: a workspace's live structure and its evidence, as model facts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.health import model
from backend.health.repository import evidence
from backend.measures.stats import Moments
from backend.models import JourneyMap, PainPoint, Stage, Touchpoint
from backend.vocabulary.journeys import MapStatus, PainPointStatus, Scenario, Severity

Facts = tuple[list[model.TouchpointFacts], list[model.StageFacts], list[model.MapFacts]]
# Per subject: its evidence in the current window and in the previous one.
Windows = dict[UUID, tuple[dict[model.Metric, Moments], dict[model.Metric, Moments]]]


# Where each metric's sums start in an evidence row (after the subject id and level).
_OFFSETS = tuple(
    (metric, 2 + evidence.COLUMNS.index(evidence.column_of(metric, "n"))) for metric in model.Metric
)


def windows_of(rows: Iterable[evidence.EvidenceRow]) -> Windows:
    """Each subject's moments per metric and window, from its evidence row."""
    found: Windows = {}
    for row in rows:
        current: dict[model.Metric, Moments] = {}
        previous: dict[model.Metric, Moments] = {}
        for metric, at in _OFFSETS:
            if n := row[at]:
                current[metric] = Moments(int(n), float(row[at + 1]), float(row[at + 2]))
            if p_n := row[at + 3]:
                previous[metric] = Moments(int(p_n), float(row[at + 4]), float(row[at + 5]))
        found[row[0]] = (current, previous)
    return found


async def load_facts(
    session: AsyncSession, workspace_id: UUID, found: Windows | None = None
) -> Facts:
    """The structure with its evidence: ``found``, or else the stored evidence."""
    if found is None:
        found = windows_of(await evidence.stored(session, workspace_id))
    return await load_structure(session, workspace_id, found)


async def load_structure(session: AsyncSession, workspace_id: UUID, found: Windows) -> Facts:
    """The workspace's live maps, stages and touchpoints, each with its evidence."""
    empty: tuple[dict[model.Metric, Moments], dict[model.Metric, Moments]] = ({}, {})
    maps = (
        await session.execute(
            select(JourneyMap.id, JourneyMap.title, JourneyMap.status, JourneyMap.scenario).where(
                JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None)
            )
        )
    ).all()
    live = {m.id for m in maps}
    stages = [
        model.StageFacts(s.id, s.journey_map_id, s.name, *found.get(s.id, empty))
        for s in (
            await session.execute(
                select(Stage.id, Stage.journey_map_id, Stage.name)
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
    touchpoints = [
        model.TouchpointFacts(
            id=t.id,
            stage_id=t.stage_id,
            journey_map_id=t.journey_map_id,
            name=t.name,
            moment_of_truth=t.moment_of_truth,
            traffic=t.traffic,
            emotion=t.emotion,
            open_pains=tuple(sorted(pains.get(t.id, ()))),
            current=found.get(t.id, empty)[0],
            previous=found.get(t.id, empty)[1],
        )
        for t in (
            await session.execute(
                select(
                    Touchpoint.id,
                    Touchpoint.stage_id,
                    Touchpoint.journey_map_id,
                    Touchpoint.name,
                    Touchpoint.moment_of_truth,
                    Touchpoint.traffic,
                    Touchpoint.emotion,
                )
                .where(Touchpoint.workspace_id == workspace_id)
                .order_by(Touchpoint.stage_id, Touchpoint.position)
            )
        ).all()
        if t.journey_map_id in live
    ]
    journey_maps = [
        model.MapFacts(
            m.id,
            m.status == MapStatus.ACTIVE and m.scenario == Scenario.CURRENT_STATE,
            m.title,
            *found.get(m.id, empty),
        )
        for m in maps
    ]
    return touchpoints, stages, journey_maps
