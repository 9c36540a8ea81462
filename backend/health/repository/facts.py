"""What a pass scores from: a workspace's live structure and its evidence, as model facts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
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


_METRICS = {m.value: m for m in model.Metric}  # a dict lookup, not an enum call, per row


def windows_of(rows: Iterable[tuple[UUID, str, str, tuple[float, ...]]]) -> Windows:
    found: Windows = defaultdict(lambda: ({}, {}))
    for subject_id, _, name, sums in rows:
        current, previous = found[subject_id]
        n, total, total_sq, p_n, p_total, p_total_sq = sums
        metric = _METRICS[name]
        if n:
            current[metric] = Moments(int(n), total, total_sq)
        if p_n:
            previous[metric] = Moments(int(p_n), p_total, p_total_sq)
    return dict(found)


async def load_facts(
    session: AsyncSession, workspace_id: UUID, as_of: datetime | None = None
) -> Facts:
    """The structure with the stored evidence (``as_of`` is kept for callers; stored
    evidence is read as the pass that refreshed it left it)."""
    return await load_structure(
        session, workspace_id, windows_of(await evidence.stored(session, workspace_id))
    )


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
