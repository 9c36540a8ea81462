"""The health index (docs/health-score.md) as pure functions: evidence and structure in, scores out.

No I/O here. ``backend.health.repository.evidence`` sums each subject's answers into
``Moments`` per metric in SQL; ``backend.health.recalculate`` loads the structure and
stores what ``compute`` returns. Keeping the arithmetic here makes the properties the
tests hold (no score without evidence, no free points, importance not volume,
monotone, bounded) checkable on their own.

The method in one breath: a touchpoint's customer evidence is the standard survey
metrics over 90 days (each answer's item index, ``backend.measures.scales``), one equal
share per measure kind present and a fixed smaller share for sentiment; known pain
points and a negative mapped emotion can only lower it, by a weight that falls as
answers accumulate; stages and maps are importance-weighted means of their scored
parts; every score carries a 95 % interval.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple
from uuid import UUID

from backend.measures import stats
from backend.measures.stats import Moments
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Severity

WINDOW = timedelta(days=90)  # the current window; the one before it gives the trend
MIN_EVIDENCE = 5  # answers and scored texts a subject needs in the window for a score
SENTIMENT_SHARE = 0.2  # of the evidence value, when answers are there too
PRIOR_K = 5  # pain points and emotion weigh as much as this many answers
PRIOR_MAX_POINTS = 30.0  # the most the prior can take off the evidence value
SEVERITY_POINTS: Mapping[Severity, float] = {
    Severity.CRITICAL: 25,
    Severity.HIGH: 15,
    Severity.MEDIUM: 8,
    Severity.LOW: 3,
}
EMOTION_POINTS = 7.5  # per step of mapped emotion below neutral (-2 costs 15)
MOMENT_OF_TRUTH_FACTOR = 3  # a moment of truth weighs as three ordinary touchpoints
SD_FLOOR = 5.0  # the least spread a mean's interval assumes: identical answers are not certainty
DEFAULT_TARGET = 75.0  # "good", when a workspace has not set its own target
Z = stats.z_quantile()  # 95 %: intervals of blends and weighted means (normal approximation)


class Metric(StrEnum):
    CSAT = "CSAT"
    NPS = "NPS"
    CES = "CES"
    RATING = "RATING"
    SENTIMENT = "SENTIMENT"  # of scored texts only: (s + 1) / 2 x 100


MEASURES = (Metric.CSAT, Metric.NPS, Metric.CES, Metric.RATING)
PRIOR = "prior"  # the component name of the pain-and-emotion prior


def metric_of(kind: MeasureKind) -> Metric:
    return Metric(kind.value)


class State(StrEnum):
    SCORED = "SCORED"
    INSUFFICIENT_EVIDENCE = "INSUFFICIENT_EVIDENCE"


# One subject's answers in one window: item-index moments per metric.
Evidence = Mapping[Metric, Moments]
NO_EVIDENCE: Evidence = {}


def sentiment_index(sentiment: float) -> float:
    return (sentiment + 1.0) * 50.0


class Reading(NamedTuple):
    """One metric of one subject in one window, as a survey tool reads it (a tuple: a
    full pass reads some 10,000)."""

    metric: Metric
    n: int
    value: float  # the mean item index, 0..100
    standard_error: float
    low: float
    high: float

    @property
    def headline(self) -> float | None:
        """NPS -100..100 or CSAT %; the other metrics' headline needs their scale."""
        if self.metric is Metric.NPS:
            return 2 * self.value - 100
        if self.metric is Metric.CSAT:
            return self.value
        return None


# A quantile from scipy costs some 200 µs; a full pass reads each metric of thousands of
# subjects in two windows, over few distinct sample sizes.
_t_quantile = lru_cache(maxsize=None)(stats.t_quantile)
_wilson = lru_cache(maxsize=65536)(stats.wilson)


def read(metric: Metric, moments: Moments) -> Reading | None:
    """The metric's index with its 95 % interval: Wilson for the CSAT share, t for means."""
    n = moments.n
    if n <= 0:
        return None
    mean = moments.total / n
    if metric is Metric.CSAT:
        low, high = _wilson(round(moments.total / 100.0), n) or (0.0, 1.0)
        return Reading(metric, n, mean, (high - low) * 50.0 / Z, low * 100.0, high * 100.0)
    # One answer says nothing about spread: take the widest a 0..100 value can have.
    if n < 2:
        sd = 50.0
    else:
        variance = max(0.0, (moments.total_sq - n * mean * mean) / (n - 1))
        sd = max(math.sqrt(variance), SD_FLOOR)
    se = sd / math.sqrt(n)
    half = _t_quantile(max(n - 1, 1)) * se
    return Reading(metric, n, mean, se, _bounded(mean - half), _bounded(mean + half))


@lru_cache(maxsize=64)  # a subject's metrics are one of 31 sets
def shares(present: frozenset[Metric]) -> dict[Metric, float]:
    """Each present metric's share of the evidence value: equal per measure kind, so
    600 NPS answers do not outweigh 200 CSAT answers; sentiment a fixed smaller share.
    Cached, so the dict returned is shared: read it, never change it."""
    measures = [m for m in MEASURES if m in present]
    felt = Metric.SENTIMENT in present
    if not measures:
        return {Metric.SENTIMENT: 1.0} if felt else {}
    each = (1 - SENTIMENT_SHARE if felt else 1.0) / len(measures)
    found = dict.fromkeys(measures, each)
    if felt:
        found[Metric.SENTIMENT] = SENTIMENT_SHARE
    return found


def prior_points(open_pains: Iterable[Severity], emotion: int | None) -> float:
    """What the team's own knowledge says is wrong, in points (0..PRIOR_MAX_POINTS)."""
    pains = sum(SEVERITY_POINTS[s] for s in open_pains)
    felt = EMOTION_POINTS * max(0, -(emotion or 0))
    return min(PRIOR_MAX_POINTS, pains + felt)


def prior_weight(n: int) -> float:
    """k / (k + n): the prior's weight falls as customer evidence grows."""
    return PRIOR_K / (PRIOR_K + n)


class Component(NamedTuple):
    """A part of a score: a metric (or the prior) and its share of the blend.

    ``value x weight`` summed over the components is the score. A tuple: a full pass
    makes some 12,000, and stores each as the array of its fields.
    """

    name: str
    value: float  # 0..100
    weight: float  # its share of the score (0..1)
    sample_size: int = 0
    prior_share: float = 0.0  # for the prior: k / (k + n)
    low: float | None = None
    high: float | None = None
    headline: float | None = None  # NPS -100..100 or CSAT %, as survey tools show it


@dataclass(frozen=True, slots=True)
class Score:
    state: State
    score: float | None  # 0..100; None without enough evidence
    low: float | None  # the 95 % interval
    high: float | None
    standard_error: float | None
    components: tuple[Component, ...] = ()
    sample_size: int = 0  # answers and scored texts behind the score
    previous: float | None = None  # the same subject over the window before
    previous_sample_size: int = 0
    scored_parts: int = 0  # for a stage, map or workspace: its parts with a score
    parts: int = 0

    @property
    def trend(self) -> float | None:
        if self.score is None or self.previous is None:
            return None
        return self.score - self.previous

    @property
    def confidence(self) -> float | None:
        """1 - the interval's width / 100: 1 is a point, 0 is "anywhere from 0 to 100"."""
        if self.low is None or self.high is None:
            return None
        return max(0.0, 1.0 - (self.high - self.low) / 100.0)


def insufficient(
    sample_size: int = 0, scored_parts: int = 0, parts: int = 0, *, before: Score | None = None
) -> Score:
    return Score(
        State.INSUFFICIENT_EVIDENCE,
        None,
        None,
        None,
        None,
        sample_size=sample_size,
        previous=None if before is None else before.score,
        previous_sample_size=0 if before is None else before.sample_size,
        scored_parts=scored_parts,
        parts=parts,
    )


@dataclass(frozen=True, slots=True)
class TouchpointFacts:
    id: UUID
    stage_id: UUID
    journey_map_id: UUID
    name: str = ""
    moment_of_truth: bool = False
    traffic: int | None = None  # declared customers a month
    emotion: int | None = None
    open_pains: tuple[Severity, ...] = ()
    current: Evidence = field(default_factory=dict)
    previous: Evidence = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StageFacts:
    id: UUID
    journey_map_id: UUID
    name: str = ""
    current: Evidence = field(default_factory=dict)  # feedback on the stage, no touchpoint
    previous: Evidence = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MapFacts:
    id: UUID
    counts_for_workspace: bool  # active and current-state: the journey as it is lived
    name: str = ""
    current: Evidence = field(default_factory=dict)  # feedback on the map itself
    previous: Evidence = field(default_factory=dict)


class PartKind(StrEnum):
    TOUCHPOINT = "TOUCHPOINT"
    STAGE = "STAGE"
    JOURNEY_MAP = "JOURNEY_MAP"
    OWN_FEEDBACK = "OWN_FEEDBACK"  # feedback on the stage or map itself


@dataclass(frozen=True, slots=True)
class Part:
    """A parent's part: what it is and its importance (not its volume)."""

    kind: PartKind
    id: UUID  # the touchpoint, stage or map; the parent's own id for its own feedback
    weight: float


@dataclass(frozen=True)
class WorkspaceHealth:
    touchpoints: dict[UUID, Score] = field(default_factory=dict)
    stages: dict[UUID, Score] = field(default_factory=dict)
    maps: dict[UUID, Score] = field(default_factory=dict)
    own: dict[UUID, Score] = field(default_factory=dict)  # a stage's or map's own feedback
    workspace: Score | None = None
    parts: dict[UUID, list[Part]] = field(default_factory=dict)  # by parent (workspace too)

    def score_of(self, part: Part) -> Score:
        if part.kind is PartKind.TOUCHPOINT:
            return self.touchpoints[part.id]
        if part.kind is PartKind.STAGE:
            return self.stages[part.id]
        if part.kind is PartKind.JOURNEY_MAP:
            return self.maps[part.id]
        return self.own[part.id]


def _bounded(value: float) -> float:
    # Comparisons, not min(max()): a full pass bounds some 200,000 values.
    return 0.0 if value < 0.0 else 100.0 if value > 100.0 else value


def _interval(value: float, se: float) -> tuple[float, float]:
    return _bounded(value - Z * se), _bounded(value + Z * se)


_METRICS = tuple(Metric)  # the order components are listed in


_NAMES = {m: m.value.lower() for m in Metric}  # component names


def evidence_score(
    evidence: Evidence,
    prior: float = 0.0,
    *,
    detail: bool = True,
    before: Score | None = None,
) -> Score:
    """A subject's score from its own answers, lowered by ``prior`` points at weight k/(k+n).

    Without ``detail`` only the score and its sample (a previous window's trend needs no
    interval and no components: half of a pass's arithmetic). ``before``: the same
    subject's score over the previous window, kept as ``previous``.
    """
    present = []
    n = 0
    for m in _METRICS:
        if (found := evidence.get(m)) is not None and found.n:
            present.append((m, found))
            n += found.n
    if n < MIN_EVIDENCE:
        return insufficient(n, before=before)
    weights = shares(frozenset(m for m, _ in present))
    k_share = prior_weight(n) if prior > 0 else 0.0
    if not detail:
        value = sum(weights[m] * found.total / found.n for m, found in present)
        score = (1 - k_share) * value + k_share * max(0.0, value - prior)
        return Score(State.SCORED, score, None, None, 0.0, (), n)
    value = 0.0
    variance = 0.0
    components = []
    for metric, found in present:
        r = read(metric, found)
        assert r is not None  # found.n > 0
        weight = weights[metric]
        value += weight * r.value
        variance += (weight * r.standard_error) ** 2
        components.append(
            Component(
                _NAMES[metric],
                r.value,
                weight * (1 - k_share),
                r.n,
                0.0,
                r.low,
                r.high,
                r.headline,
            )
        )
    se = math.sqrt(variance)
    # The prior as pseudo-answers worth "the evidence less what is known to be wrong":
    # it can only lower the value, and its weight k/(k+n) falls as answers accumulate.
    prior_value = max(0.0, value - prior)
    score = (1 - k_share) * value + k_share * prior_value
    if k_share:
        components.append(Component(PRIOR, prior_value, k_share, 0, k_share))
    low, high = _interval(score, se)
    return Score(
        State.SCORED,
        score,
        low,
        high,
        se,
        tuple(components),
        n,
        None if before is None else before.score,
        0 if before is None else before.sample_size,
    )


def weighted(
    parts: Sequence[tuple[Score, float]], *, detail: bool = True, before: Score | None = None
) -> Score:
    """The weighted mean of the scored parts; unscored parts are left out (an unrated
    touchpoint can neither raise nor lower its parent) but counted as coverage. Without
    ``detail``, no interval and no components (see ``evidence_score``); ``before`` as
    there."""
    total_parts = len(parts)
    scored = [(s, w) for s, w in parts if s.score is not None]
    total = sum(w for _, w in scored)
    if not scored:
        return insufficient(0, 0, total_parts, before=before)
    if total <= 0:  # every scored part declared no traffic: count them alike
        scored = [(s, 1.0) for s, _ in scored]
        total = float(len(scored))
    score = sum((s.score or 0.0) * w for s, w in scored) / total
    if not detail:
        sample = sum(s.sample_size for s, _ in scored)
        return Score(State.SCORED, _bounded(score), None, None, 0.0, (), sample)
    se = math.sqrt(sum((w / total * (s.standard_error or 0.0)) ** 2 for s, w in scored))
    low, high = _interval(score, se)
    return Score(
        State.SCORED,
        _bounded(score),
        low,
        high,
        se,
        _blended_components(scored, total),
        sum(s.sample_size for s, _ in scored),
        previous=None if before is None else before.score,
        previous_sample_size=0 if before is None else before.sample_size,
        scored_parts=len(scored),
        parts=total_parts,
    )


def _blended_components(
    scored: Sequence[tuple[Score, float]], total: float
) -> tuple[Component, ...]:
    """A parent's components: each metric's effective share of its score and the value
    it brings, so that the components still blend to the score."""
    found: dict[str, list[tuple[Component, float]]] = defaultdict(list)
    for child, w in scored:
        for c in child.components:
            found[c.name].append((c, w / total * c.weight))
    order = [m.value.lower() for m in Metric] + [PRIOR]
    components = []
    for name in order:
        if not (pieces := found.get(name)):
            continue
        share = sum(s for _, s in pieces)
        value = sum(c.value * s for c, s in pieces) / share if share else 0.0
        components.append(Component(name, value, share, sum(c.sample_size for c, _ in pieces)))
    return tuple(components)


def importance(
    touchpoints: Sequence[TouchpointFacts], scored: Collection[UUID]
) -> dict[UUID, float]:
    """Each touchpoint's weight in its map: declared traffic (a touchpoint without a
    declaration counts as the median of the declarations of its map's scored
    touchpoints; none declared: 1), a moment of truth three times. Never how many
    answers it has. Only scored touchpoints set the median, so adding an unrated
    touchpoint cannot shift the others' weights."""
    declared: dict[UUID, list[int]] = defaultdict(list)
    for t in touchpoints:
        if t.traffic is not None and t.id in scored:
            declared[t.journey_map_id].append(t.traffic)
    typical = {m: float(statistics.median(v)) for m, v in declared.items()}
    return {
        t.id: (float(t.traffic) if t.traffic is not None else typical.get(t.journey_map_id, 1.0))
        * (MOMENT_OF_TRUTH_FACTOR if t.moment_of_truth else 1)
        for t in touchpoints
    }


def _window(
    touchpoints: Sequence[TouchpointFacts],
    stages: Sequence[StageFacts],
    maps: Sequence[MapFacts],
    *,
    priors: Mapping[UUID, float],
    before: WorkspaceHealth | None,
) -> WorkspaceHealth:
    """Every score of one window and the parts of each parent. ``before`` None: the
    previous window, without intervals or components (only its scores are kept);
    otherwise the current window, each score keeping its ``before`` as its previous."""
    previous = before is None
    detail = not previous

    health = WorkspaceHealth()
    by_stage: dict[UUID, list[TouchpointFacts]] = defaultdict(list)
    for t in touchpoints:
        health.touchpoints[t.id] = evidence_score(
            t.previous if previous else t.current,
            priors[t.id],
            detail=detail,
            before=None if before is None else before.touchpoints[t.id],
        )
        by_stage[t.stage_id].append(t)
    weights = importance(
        touchpoints, {i for i, s in health.touchpoints.items() if s.score is not None}
    )

    by_map: dict[UUID, list[StageFacts]] = defaultdict(list)
    for stage in stages:
        members = by_stage.get(stage.id, [])
        parts = [Part(PartKind.TOUCHPOINT, t.id, weights[t.id]) for t in members]
        own = evidence_score(stage.previous if previous else stage.current, detail=detail)
        if own.sample_size:
            health.own[stage.id] = own
            # Feedback on the stage itself: one more part of average importance.
            typical = sum(p.weight for p in parts) / len(parts) if parts else 1.0
            parts.append(Part(PartKind.OWN_FEEDBACK, stage.id, typical))
        health.parts[stage.id] = parts
        health.stages[stage.id] = weighted(
            [(health.score_of(p), p.weight) for p in parts],
            detail=detail,
            before=None if before is None else before.stages[stage.id],
        )
        by_map[stage.journey_map_id].append(stage)

    counted: list[Part] = []
    for journey_map in maps:
        parts = [
            Part(PartKind.STAGE, s.id, _scored_weight(health, s.id)) for s in by_map[journey_map.id]
        ]
        own = evidence_score(
            journey_map.previous if previous else journey_map.current, detail=detail
        )
        if own.sample_size:
            health.own[journey_map.id] = own
            scored = [p.weight for p in parts if p.weight > 0]
            parts.append(
                Part(
                    PartKind.OWN_FEEDBACK,
                    journey_map.id,
                    sum(scored) / len(scored) if scored else 1.0,
                )
            )
        health.parts[journey_map.id] = parts
        health.maps[journey_map.id] = weighted(
            [(health.score_of(p), p.weight) for p in parts],
            detail=detail,
            before=None if before is None else before.maps[journey_map.id],
        )
        if journey_map.counts_for_workspace:
            counted.append(Part(PartKind.JOURNEY_MAP, journey_map.id, 1.0))
    if counted:
        health.parts[WORKSPACE_KEY] = counted
        health = replace(
            health,
            workspace=weighted(
                [(health.score_of(p), p.weight) for p in counted],
                detail=detail,
                before=None if before is None else before.workspace,
            ),
        )
    return health


WORKSPACE_KEY = UUID(int=0)  # the workspace's key in ``WorkspaceHealth.parts``


def workspace_parts(health: WorkspaceHealth) -> list[Part]:
    return health.parts.get(WORKSPACE_KEY, [])


def _scored_weight(health: WorkspaceHealth, stage_id: UUID) -> float:
    """A stage weighs in its map as the importance of its scored parts together."""
    return sum(p.weight for p in health.parts[stage_id] if health.score_of(p).score is not None)


def compute(
    touchpoints: Sequence[TouchpointFacts],
    stages: Sequence[StageFacts],
    maps: Sequence[MapFacts],
) -> WorkspaceHealth:
    """Every score of one workspace, from its live structure and each subject's evidence."""
    priors = {t.id: prior_points(t.open_pains, t.emotion) for t in touchpoints}
    before = _window(touchpoints, stages, maps, priors=priors, before=None)
    return _window(touchpoints, stages, maps, priors=priors, before=before)


def portfolio(scores: Iterable[Score]) -> Score | None:
    """An agency's portfolio: the plain mean of its scored workspaces."""
    found = list(scores)
    if not found:
        return None
    score = weighted([(s, 1.0) for s in found])
    previous = [s for s in found if s.previous is not None]
    if previous:
        before = weighted([(replace(s, score=s.previous), 1.0) for s in previous])
        score = replace(score, previous=before.score)
    return score
