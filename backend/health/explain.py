"""Why a score is what it is, and what would move it: drivers ranked by lift, concerns, a summary.

A driver is one part of the subject (a stage's touchpoints and the feedback placed on
the stage itself, a map's stages, the workspace's maps) with its name, score, state,
its share of the subject and its ``lift``: the points the subject would gain if this
part reached the workspace's target, ``share x max(0, target - score)``. That is
exact, since a parent is the weighted mean of its scored parts. Ranked by lift, a
failing moment of truth (a large share, a large gap) comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.health import model
from backend.health.reads import score_of
from backend.health.repository import scores
from backend.health.repository.concerns import Concern, concerns, placed_on
from backend.health.repository.facts import Facts, load_facts
from backend.health.target import target_of
from backend.models import Feedback, HealthSubject

_KINDS = {
    model.PartKind.TOUCHPOINT: HealthSubject.TOUCHPOINT,
    model.PartKind.STAGE: HealthSubject.STAGE,
    model.PartKind.JOURNEY_MAP: HealthSubject.JOURNEY_MAP,
}


@dataclass(frozen=True)
class Driver:
    subject_type: HealthSubject
    subject_id: UUID
    name: str
    state: model.State
    score: float | None
    share: float  # its weight in the parent's score (0..1); 0 while it has no score
    gap: float | None  # target - score: + is short of the target
    lift: float  # points the parent gains if this part reached the target
    pull: float  # share x (its score - the parent's), kept for older readers
    own_feedback: bool = False  # feedback placed on the parent itself


@dataclass(frozen=True)
class Explanation:
    summary: str
    target: float
    drivers: list[Driver]
    concerns: list[Concern] = field(default_factory=list)


def drivers_of(
    health: model.WorkspaceHealth,
    parent: UUID,
    parent_score: model.Score,
    names: dict[UUID, str],
    target: float,
    own_kind: HealthSubject,
) -> list[Driver]:
    """The parent's parts, the biggest lift first, then the lowest score; unscored last."""
    parts = health.parts.get(parent, [])
    scored = sum(p.weight for p in parts if health.score_of(p).score is not None)
    found = []
    for part in parts:
        child = health.score_of(part)
        own = part.kind is model.PartKind.OWN_FEEDBACK
        share = part.weight / scored if child.score is not None and scored > 0 else 0.0
        gap = None if child.score is None else target - child.score
        found.append(
            Driver(
                own_kind if own else _KINDS[part.kind],
                part.id,
                f"{names.get(part.id, '')}: feedback placed on it directly"
                if own
                else names.get(part.id, ""),
                child.state,
                child.score,
                share,
                gap,
                share * max(0.0, gap or 0.0),
                0.0
                if child.score is None or parent_score.score is None
                else share * (child.score - parent_score.score),
                own,
            )
        )
    return sorted(
        found, key=lambda d: (d.score is None, -d.lift, d.score if d.score is not None else 0)
    )


def names_of(facts: Facts) -> dict[UUID, str]:
    touchpoints, stages, maps = facts
    return {
        **{t.id: t.name for t in touchpoints},
        **{s.id: s.name for s in stages},
        **{m.id: m.name for m in maps},
    }


def _metric_words(component: model.Component) -> str | None:
    if component.name == model.PRIOR:
        return None
    label = component.name.upper() if component.name != "sentiment" else "sentiment"
    if component.name == "nps" and component.headline is not None:
        return f"NPS {component.headline:+.0f} ({component.sample_size} answers)"
    if component.name == "csat" and component.headline is not None:
        return f"CSAT {component.headline:.0f} % ({component.sample_size} answers)"
    what = "texts" if component.name == "sentiment" else "answers"
    return f"{label} {component.value:.0f} of 100 ({component.sample_size} {what})"


def summarize(
    name: str, score: model.Score, target: float, drivers: list[Driver] | None = None
) -> str:
    """One paragraph in plain words, with names."""
    if score.score is None:
        if score.parts:
            return (
                f"{name} has no score yet: none of its {score.parts} parts has "
                f"{model.MIN_EVIDENCE} answers in the last 90 days."
            )
        return (
            f"{name} has no score yet: {score.sample_size} answers and scored texts in the "
            f"last 90 days, {model.MIN_EVIDENCE} needed."
        )
    text = f"{name} scores {score.score:.1f}"
    if score.low is not None and score.high is not None:
        text += f" (95 % interval {score.low:.1f} to {score.high:.1f})"
    metrics = [w for c in score.components if (w := _metric_words(c)) is not None]
    if not score.parts and metrics:
        text += " from " + ", ".join(metrics)
    text += "."
    prior = next((c for c in score.components if c.name == model.PRIOR), None)
    if prior is not None and not score.parts:
        evidence = sum(c.weight * c.value for c in score.components if c.name != model.PRIOR)
        cost = prior.weight * (evidence / (1 - prior.weight) - prior.value)
        text += f" Open pain points and the mapped emotion take {cost:.1f} points off."
    if score.parts:
        text += f" {score.scored_parts} of {score.parts} parts have a score."
    if score.trend is not None:
        direction = "up" if score.trend >= 0 else "down"
        text += f" {direction.capitalize()} {abs(score.trend):.1f} on the previous 90 days."
    gap = target - score.score
    text += (
        f" {gap:.1f} points short of the target {target:.0f}."
        if gap > 0
        else f" At or above the target {target:.0f}."
    )
    lifting = [d for d in drivers or [] if d.lift > 0]
    if lifting:
        top = lifting[0]
        text += (
            f" Biggest drag: {top.name} at {top.score:.1f}; bringing it to the target "
            f"would lift this by {top.lift:.1f} points."
        )
    return text


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
    facts = await load_facts(session, workspace_id)
    health = model.compute(*facts)
    target = await target_of(session, workspace_id)  # the workspace's, or the default
    names = names_of(facts)
    score = score_of(stored)
    if subject_type is HealthSubject.WORKSPACE:
        parent, name = model.WORKSPACE_KEY, "The workspace"
        counted = [p.id for p in model.workspace_parts(health)]
        placed = placed_on(Feedback.journey_map_id, counted)
    else:
        parent, name = subject_id, names.get(subject_id, "")
        column = {
            HealthSubject.TOUCHPOINT: Feedback.touchpoint_id,
            HealthSubject.STAGE: Feedback.stage_id,
            HealthSubject.JOURNEY_MAP: Feedback.journey_map_id,
        }[subject_type]
        placed = placed_on(column, [subject_id])
    drivers = drivers_of(health, parent, score, names, target, subject_type)
    return Explanation(
        summary=summarize(name, score, target, drivers),
        target=target,
        drivers=drivers[:limit] if limit else drivers,
        concerns=await concerns(session, workspace_id, placed, as_of),
    )
