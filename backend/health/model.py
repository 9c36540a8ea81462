"""The health model (docs/health-score.md) as pure functions: evidence and structure in, scores out.

No I/O here. ``backend.health.repository.evidence`` sums a touchpoint's feedback into
``Evidence`` in SQL; ``backend.health.recalculate`` loads the structure and stores
what ``compute`` returns. Keeping the arithmetic here makes the properties the
tests hold (bounded, deterministic, monotone in ratings) checkable on their own.

Two choices beyond the default model's wording, written up in docs/health-score.md:
- Shrinkage toward the workspace mean applies to the *evidence* components
  (satisfaction, sentiment), each by its own sample, not to the blended score:
  a critical pain point on a touchpoint nobody has rated yet still lowers it.
- Weights decay with age relative to each evidence row's own ``as_of``; rows
  computed at different moments are brought to a common one before pooling.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Severity

WINDOW = timedelta(days=90)
HALF_LIFE = timedelta(days=30)
SHRINK_K = 10  # a component's own evidence counts n/(n+K) against the workspace mean
COMPONENT_WEIGHTS: Mapping[str, float] = {
    "satisfaction": 0.5,
    "sentiment": 0.2,
    "pain": 0.2,
    "emotion": 0.1,
}
SEVERITY_WEIGHTS: Mapping[Severity, int] = {
    Severity.CRITICAL: 25,
    Severity.HIGH: 15,
    Severity.MEDIUM: 8,
    Severity.LOW: 3,
}
MOMENT_OF_TRUTH_FACTOR = 2


def normalised_measure(kind: MeasureKind, value: int) -> float:
    """A measure on 0..1, higher is better. The SQL in ``evidence`` mirrors this.

    NPS is scored per answer (promoter 1, passive ½, detractor 0): the mean of
    those is exactly (promoters% - detractors% + 100) / 200.
    """
    if kind in (MeasureKind.CSAT, MeasureKind.RATING):
        return (value - 1) / 4
    if kind is MeasureKind.CES:
        return (7 - value) / 6
    return 1.0 if value >= 9 else 0.5 if value >= 7 else 0.0


def recency_weight(age: timedelta) -> float:
    return float(0.5 ** (age / HALF_LIFE))


def emotion_value(emotion: int) -> float:
    return (emotion + 2) / 4 * 100


def pain_value(open_severities: Iterable[Severity]) -> float:
    return max(0.0, 100.0 - sum(SEVERITY_WEIGHTS[s] for s in open_severities))


@dataclass(frozen=True)
class Tally:
    """Recency-weighted sums of one component's 0..1 values over one window."""

    weight: float = 0.0
    total: float = 0.0
    count: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.weight + other.weight, self.total + other.total, self.count + other.count)

    def scaled(self, factor: float) -> Tally:
        return Tally(self.weight * factor, self.total * factor, self.count)

    def mean(self) -> float | None:
        return self.total / self.weight if self.count and self.weight > 0 else None


@dataclass(frozen=True)
class Evidence:
    """One touchpoint's feedback in one window; ``items`` counts those that carry any."""

    satisfaction: Tally = Tally()
    sentiment: Tally = Tally()
    items: int = 0

    def scaled(self, factor: float) -> Evidence:
        return replace(
            self,
            satisfaction=self.satisfaction.scaled(factor),
            sentiment=self.sentiment.scaled(factor),
        )


NO_EVIDENCE = Evidence()


@dataclass(frozen=True)
class TouchpointFacts:
    id: UUID
    stage_id: UUID
    journey_map_id: UUID
    moment_of_truth: bool = False
    emotion: int | None = None
    open_pains: tuple[Severity, ...] = ()
    current: Evidence = NO_EVIDENCE
    previous: Evidence = NO_EVIDENCE


@dataclass(frozen=True)
class StageFacts:
    id: UUID
    journey_map_id: UUID


@dataclass(frozen=True)
class MapFacts:
    id: UUID
    counts_for_workspace: bool  # active and current-state: the journey as it is lived


@dataclass(frozen=True)
class Component:
    name: str
    value: float  # 0..100
    weight: float  # its share of the blend, after renormalising over present components
    sample_size: int = 0
    prior_share: float = 0.0  # how much of the value is the workspace mean (0..1)


@dataclass(frozen=True)
class Score:
    score: float
    components: tuple[Component, ...]
    sample_size: int
    confidence: float
    previous: float | None = None  # the same subject over the window before
    previous_sample_size: int = 0

    @property
    def trend(self) -> float | None:
        return None if self.previous is None else self.score - self.previous


@dataclass(frozen=True)
class WorkspaceHealth:
    touchpoints: dict[UUID, Score] = field(default_factory=dict)
    stages: dict[UUID, Score] = field(default_factory=dict)
    maps: dict[UUID, Score] = field(default_factory=dict)
    workspace: Score | None = None


def confidence_of(sample_size: int) -> float:
    return sample_size / (sample_size + SHRINK_K)


# A component before blending: (name, value 0..100, its own sample, prior share).
_Part = tuple[str, float, int, float]


def _shrunk(name: str, own: Tally, prior: float | None) -> _Part | None:
    """Own evidence against the workspace mean, weighted n/(n+K) by the own sample."""
    if prior is None:
        return None  # nobody in the workspace has said anything of this kind
    own_mean = own.mean()
    n = own.count if own_mean is not None else 0
    value = (n * (own_mean or 0.0) + SHRINK_K * prior) / (n + SHRINK_K)
    return (name, value * 100, n, SHRINK_K / (n + SHRINK_K))


def _bounded(value: float) -> float:
    return min(100.0, max(0.0, value))


def _touchpoint_parts(
    evidence: Evidence, structural: list[_Part], priors: tuple[float | None, float | None]
) -> tuple[float, list[_Part], float]:
    """The blended score, its parts, and the sum of their weights (for renormalising).

    ``structural`` are the parts that do not depend on the window (pain, emotion),
    made once for both. Plain tuples, not Components: a full pass blends every
    touchpoint twice (both windows) and keeps the components of one.
    """
    parts = [
        part
        for part in (
            _shrunk("satisfaction", evidence.satisfaction, priors[0]),
            _shrunk("sentiment", evidence.sentiment, priors[1]),
        )
        if part is not None
    ]
    parts.extend(structural)
    total = sum(COMPONENT_WEIGHTS[part[0]] for part in parts)
    score = _bounded(sum(value * (COMPONENT_WEIGHTS[name] / total) for name, value, _, _ in parts))
    return score, parts, total


def _structural_parts(facts: TouchpointFacts) -> list[_Part]:
    parts: list[_Part] = [("pain", pain_value(facts.open_pains), 0, 0.0)]
    if facts.emotion is not None:
        parts.append(("emotion", emotion_value(facts.emotion), 0, 0.0))
    return parts


def _touchpoint(
    facts: TouchpointFacts,
    priors: tuple[float | None, float | None],
    previous_priors: tuple[float | None, float | None],
) -> Score:
    structural = _structural_parts(facts)
    score, parts, total = _touchpoint_parts(facts.current, structural, priors)
    components = tuple(
        Component(name, value, COMPONENT_WEIGHTS[name] / total, n, share)
        for name, value, n, share in parts
    )
    items = facts.current.items
    before = facts.previous.items
    return Score(
        score,
        components,
        items,
        confidence_of(items),
        _touchpoint_parts(facts.previous, structural, previous_priors)[0] if before else None,
        before,
    )


def _priors(evidence: Iterable[Evidence]) -> tuple[float | None, float | None]:
    satisfaction, sentiment = Tally(), Tally()
    for item in evidence:
        satisfaction += item.satisfaction
        sentiment += item.sentiment
    return satisfaction.mean(), sentiment.mean()


def _weighted(
    parts: Sequence[tuple[Score, float]], previous: Sequence[tuple[Score, float]]
) -> Score:
    """The weighted mean of child scores (and of each component the children share)."""
    total = sum(w for _, w in parts)
    score = _bounded(sum(s.score * w for s, w in parts) / total)
    by_name: dict[str, list[tuple[Component, float]]] = defaultdict(list)
    for child, w in parts:
        for component in child.components:
            by_name[component.name].append((component, w))
    components = tuple(
        Component(
            name,
            sum(c.value * w for c, w in found) / sum(w for _, w in found),
            COMPONENT_WEIGHTS[name],
            sum(c.sample_size for c, _ in found),
        )
        for name in COMPONENT_WEIGHTS
        if (found := by_name.get(name))
    )
    sample = sum(s.sample_size for s, _ in parts)
    previous_sample = sum(s.sample_size for s, _ in previous)
    previous_score = None
    if previous and previous_sample:
        previous_total = sum(w for _, w in previous)
        previous_score = _bounded(sum(s.score * w for s, w in previous) / previous_total)
    return Score(score, components, sample, confidence_of(sample), previous_score, previous_sample)


def compute(
    touchpoints: Sequence[TouchpointFacts],
    stages: Sequence[StageFacts],
    maps: Sequence[MapFacts],
) -> WorkspaceHealth:
    """Every score of one workspace, from its live structure and touchpoint evidence."""
    current_priors = _priors(t.current for t in touchpoints)
    previous_priors = _priors(t.previous for t in touchpoints)
    health = WorkspaceHealth()
    for facts in touchpoints:
        health.touchpoints[facts.id] = _touchpoint(facts, current_priors, previous_priors)

    by_stage: dict[UUID, list[TouchpointFacts]] = defaultdict(list)
    for facts in touchpoints:
        by_stage[facts.stage_id].append(facts)
    stage_scores: dict[UUID, list[tuple[Score, Score]]] = defaultdict(list)
    for stage in stages:
        members = by_stage.get(stage.id)
        if not members:
            continue  # an empty stage has nothing to score

        def weight(f: TouchpointFacts, items: int) -> float:
            return (items + 1) * (MOMENT_OF_TRUTH_FACTOR if f.moment_of_truth else 1)

        score = _weighted(
            [(health.touchpoints[f.id], weight(f, f.current.items)) for f in members],
            [
                (_as_previous(health.touchpoints[f.id]), weight(f, f.previous.items))
                for f in members
            ],
        )
        health.stages[stage.id] = score
        stage_scores[stage.journey_map_id].append((score, _as_previous(score)))

    counted: list[tuple[Score, Score]] = []
    for journey_map in maps:
        children = stage_scores.get(journey_map.id)
        if not children:
            continue
        score = _weighted([(s, 1.0) for s, _ in children], [(p, 1.0) for _, p in children])
        health.maps[journey_map.id] = score
        if journey_map.counts_for_workspace:
            counted.append((score, _as_previous(score)))
    if counted:
        workspace = _weighted([(s, 1.0) for s, _ in counted], [(p, 1.0) for _, p in counted])
        health = replace(health, workspace=workspace)
    return health


def _as_previous(score: Score) -> Score:
    """A parent's view of a child's previous window, for the parent's trend: a child
    without one counts as unchanged, so it neither raises nor lowers the trend."""
    if score.previous is None:
        return Score(score.score, (), 0, 0.0)
    return Score(score.previous, (), score.previous_sample_size, 0.0)


def portfolio(scores: Iterable[Score]) -> Score | None:
    """An agency's portfolio: the plain mean of its workspaces' scores."""
    found = list(scores)
    if not found:
        return None
    return _weighted([(s, 1.0) for s in found], [(_as_previous(s), 1.0) for s in found])


def decay_factor(evidence_as_of: datetime, as_of: datetime) -> float:
    """Bring weights summed at ``evidence_as_of`` to the moment ``as_of``."""
    return recency_weight(as_of - evidence_as_of)
