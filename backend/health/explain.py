"""Why a score is what it is: its components, the children pulling it, the feedback moving it.

An item's influence is its first-order effect on the subject's score, in points:
its component's share of the blend, times the weight its own evidence gets
against the workspace mean (n/(n+K)), times its pull on the recency-weighted
mean (w·(v - mean)/sum w), times its touchpoint's share of the subject. The
database ranks every item by it and returns the few that move the score most.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.health import model
from backend.health.reads import score_of
from backend.health.repository import evidence, scores
from backend.health.repository.facts import load_facts
from backend.models import HealthSubject

MAX_TOUCHPOINTS_SEARCHED = 300  # for a workspace: the touchpoints that weigh most in it


@dataclass(frozen=True)
class Driver:
    subject_type: HealthSubject
    subject_id: UUID
    score: float
    share: float  # its weight in the parent's score (0..1)
    pull: float  # share x (its score - the parent's): negative drags the parent down


@dataclass(frozen=True)
class Influence:
    feedback_id: UUID
    touchpoint_id: UUID
    points: float  # + raised the score, - lowered it


@dataclass(frozen=True)
class Explanation:
    summary: str
    drivers: list[Driver]
    feedback: list[Influence]


def summarize(score: model.Score) -> str:
    parts = ", ".join(
        f"{c.name} {c.value:.1f} ({c.weight:.0%})" for c in score.components if c.weight
    )
    text = (
        f"{score.score:.1f} from {parts}; {score.sample_size} feedback items, "
        f"confidence {score.confidence:.2f}"
    )
    if score.trend is not None:
        direction = "up" if score.trend >= 0 else "down"
        text += f"; {direction} {abs(score.trend):.1f} points on the previous window"
    return text + "."


async def explain(
    session: AsyncSession,
    workspace_id: UUID,
    subject_type: HealthSubject,
    subject_id: UUID,
    *,
    limit: int = 5,
) -> Explanation | None:
    stored = await scores.stored(session, workspace_id, subject_id)
    if stored is None:
        return None
    as_of = stored.computed_at
    touchpoints, stages, maps = await load_facts(session, workspace_id, as_of)
    health = model.compute(touchpoints, stages, maps)
    shares, drivers = _shares(health, touchpoints, maps, subject_type, subject_id)
    return Explanation(
        summary=summarize(score_of(stored)),
        drivers=sorted(drivers, key=lambda d: d.pull)[:limit],
        feedback=await _influences(session, workspace_id, health, shares, as_of, limit),
    )


def _shares(
    health: model.WorkspaceHealth,
    touchpoints: list[model.TouchpointFacts],
    maps: list[model.MapFacts],
    subject_type: HealthSubject,
    subject_id: UUID,
) -> tuple[dict[UUID, float], list[Driver]]:
    """Each touchpoint's share of the subject's score, and the subject's direct children."""
    stage_share: dict[UUID, dict[UUID, float]] = defaultdict(dict)
    for facts in touchpoints:
        factor = model.MOMENT_OF_TRUTH_FACTOR if facts.moment_of_truth else 1
        stage_share[facts.stage_id][facts.id] = (facts.current.items + 1) * factor
    for members in stage_share.values():
        total = sum(members.values())
        for key in members:
            members[key] /= total
    stages_of_map: dict[UUID, list[UUID]] = defaultdict(list)
    map_of_stage = {f.stage_id: f.journey_map_id for f in touchpoints}
    for stage_id in health.stages:
        stages_of_map[map_of_stage[stage_id]].append(stage_id)

    def of_stage(stage_id: UUID, share: float) -> dict[UUID, float]:
        return {t: s * share for t, s in stage_share[stage_id].items()}

    def of_map(map_id: UUID, share: float) -> dict[UUID, float]:
        found: dict[UUID, float] = {}
        for stage_id in stages_of_map[map_id]:
            found.update(of_stage(stage_id, share / len(stages_of_map[map_id])))
        return found

    def driver(
        kind: HealthSubject, child: UUID, score: model.Score, share: float, parent: float
    ) -> Driver:
        return Driver(kind, child, score.score, share, share * (score.score - parent))

    if subject_type is HealthSubject.TOUCHPOINT:
        return {subject_id: 1.0}, []
    if subject_type is HealthSubject.STAGE:
        parent = health.stages[subject_id].score
        members = stage_share[subject_id]
        return of_stage(subject_id, 1.0), [
            driver(HealthSubject.TOUCHPOINT, t, health.touchpoints[t], s, parent)
            for t, s in members.items()
        ]
    if subject_type is HealthSubject.JOURNEY_MAP:
        parent = health.maps[subject_id].score
        children = stages_of_map[subject_id]
        return of_map(subject_id, 1.0), [
            driver(HealthSubject.STAGE, s, health.stages[s], 1 / len(children), parent)
            for s in children
        ]
    counted = [m.id for m in maps if m.counts_for_workspace and m.id in health.maps]
    if not counted or health.workspace is None:
        return {}, []
    shares: dict[UUID, float] = {}
    for map_id in counted:
        shares.update(of_map(map_id, 1 / len(counted)))
    heaviest = sorted(shares, key=shares.__getitem__, reverse=True)[:MAX_TOUCHPOINTS_SEARCHED]
    return {t: shares[t] for t in heaviest}, [
        driver(
            HealthSubject.JOURNEY_MAP, m, health.maps[m], 1 / len(counted), health.workspace.score
        )
        for m in counted
    ]


async def _influences(
    session: AsyncSession,
    workspace_id: UUID,
    health: model.WorkspaceHealth,
    shares: dict[UUID, float],
    as_of: datetime,
    limit: int,
) -> list[Influence]:
    found = await evidence.rows_of(session, workspace_id, shares)
    if not found:
        return []
    pulls: dict[str, tuple[dict[UUID, float], dict[UUID, float]]] = {}
    for name in ("satisfaction", "sentiment"):
        factor: dict[UUID, float] = {}
        mean: dict[UUID, float] = {}
        for touchpoint_id, row in found.items():
            weight, total, count = (
                getattr(row, f"{name}_weight"),
                getattr(row, f"{name}_total"),
                getattr(row, f"{name}_count"),
            )
            component = next(
                (c for c in health.touchpoints[touchpoint_id].components if c.name == name), None
            )
            if not count or weight <= 0 or component is None:
                continue
            shrink = count / (count + model.SHRINK_K)
            factor[touchpoint_id] = shares[touchpoint_id] * component.weight * shrink * 100 / weight
            mean[touchpoint_id] = total / weight
        if factor:
            pulls[name] = (factor, mean)
    if not pulls:
        return []
    return [
        Influence(feedback_id, touchpoint_id, points)
        for feedback_id, touchpoint_id, points in await evidence.strongest_influences(
            session, workspace_id, found, pulls, as_of, limit
        )
    ]
