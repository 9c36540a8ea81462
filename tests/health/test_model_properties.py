"""The promised properties of the pure health model, over random workspaces (hypothesis).

A world is 1-3 journey maps (each counted for the workspace or not), 1-4 stages per
map, 0-5 touchpoints per stage, each with an emotion (None or -2..2), a moment-of-truth
flag, 0-5 open pain points, and 0-6 feedback items: a measure and a value in its range
(or none), an age of 0-180 days and maybe a sentiment in -1..1. Items become the two
windows' tallies with the arithmetic evidence.py's SQL mirrors (``normalised_measure``,
``recency_weight``): the current window holds ages < 90 days, weighted by age; the
previous one 90 <= age < 180, weighted by age - 90. No database here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import count
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.health import model
from backend.vocabulary.feedback import MEASURE_RANGES, MeasureKind
from backend.vocabulary.journeys import Severity

SLACK = 1e-9
K = 10  # own evidence weighs n / (n + 10) against the workspace mean
WINDOW_DAYS = 90
KINDS = list(MeasureKind)
SEVERITIES = list(Severity)

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- worlds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One feedback item as the database holds it."""

    kind: MeasureKind | None
    value: int | None
    age_days: float
    sentiment: float | None

    @property
    def measured(self) -> bool:
        return self.kind is not None and self.value is not None

    @property
    def current(self) -> bool:
        return self.age_days < WINDOW_DAYS

    def weight(self) -> float:
        shift = 0 if self.current else WINDOW_DAYS
        return model.recency_weight(timedelta(days=self.age_days - shift))

    def satisfaction(self) -> float | None:
        if self.kind is None or self.value is None:
            return None
        return model.normalised_measure(self.kind, self.value)

    def felt(self) -> float | None:
        return None if self.sentiment is None else (self.sentiment + 1) / 2


def window_evidence(found: list[Item]) -> model.Evidence:
    """One window's evidence, summed the way evidence.py's SQL sums it."""
    satisfaction, sentiment, items = model.Tally(), model.Tally(), 0
    for item in found:
        w = item.weight()
        if (v := item.satisfaction()) is not None:
            satisfaction += model.Tally(w, w * v, 1)
        if (s := item.felt()) is not None:
            sentiment += model.Tally(w, w * s, 1)
        if v is not None or s is not None:
            items += 1
    return model.Evidence(satisfaction, sentiment, items)


@dataclass(frozen=True)
class Spot:
    """A touchpoint as drawn: its facts (evidence left empty) and its feedback."""

    facts: model.TouchpointFacts
    feedback: tuple[Item, ...]

    def touchpoint(self) -> model.TouchpointFacts:
        return replace(
            self.facts,
            current=window_evidence([i for i in self.feedback if i.current]),
            previous=window_evidence([i for i in self.feedback if not i.current]),
        )


@dataclass(frozen=True)
class World:
    spots: tuple[Spot, ...]
    stages: tuple[model.StageFacts, ...]
    maps: tuple[model.MapFacts, ...]

    def touchpoints(self) -> list[model.TouchpointFacts]:
        return [spot.touchpoint() for spot in self.spots]

    def health(self) -> model.WorkspaceHealth:
        return model.compute(self.touchpoints(), self.stages, self.maps)

    def with_spot(self, index: int, spot: Spot) -> World:
        spots = list(self.spots)
        spots[index] = spot
        return replace(self, spots=tuple(spots))


# A world holds up to a few hundred items. Drawing each item (and each touchpoint's
# facts) as one integer and decoding it is ~8x faster than one strategy per field, and
# still shrinks toward the simplest item: no measure, age 0, no sentiment. Ages step by
# 0.01 day, so the window's edge (90.00) occurs exactly.
AGE_STEPS = 180 * 100
PLACES = 5 * 7 * 11  # a multiple of every measure's range size: values come out uniform
SENTIMENT_STEPS = 2000  # -1..1 by 0.001; the lower half of the codes mean no sentiment
ITEM_CODES = (len(KINDS) + 1) * PLACES * AGE_STEPS * (2 * SENTIMENT_STEPS + 2)
EMOTIONS = (None, -2, -1, 0, 1, 2)
TOUCHPOINT_CODES = 2 * len(EMOTIONS) * 6 * len(SEVERITIES) ** 5


def rating_of(kind: MeasureKind, place: int) -> tuple[MeasureKind, int]:
    low, high = MEASURE_RANGES[kind]
    return kind, low + place % (high - low + 1)


def item_of(code: int) -> Item:
    code, kind_code = divmod(code, len(KINDS) + 1)
    code, place = divmod(code, PLACES)
    felt, age = divmod(code, AGE_STEPS)
    kind, value = rating_of(KINDS[kind_code - 1], place) if kind_code else (None, None)
    felt -= SENTIMENT_STEPS + 1
    sentiment = -1 + felt * 2 / SENTIMENT_STEPS if felt >= 0 else None
    return Item(kind, value, age / 100, sentiment)


def touchpoint_of(code: int, id: UUID, stage_id: UUID, map_id: UUID) -> model.TouchpointFacts:
    code, moment = divmod(code, 2)
    code, emotion = divmod(code, len(EMOTIONS))
    code, pains = divmod(code, 6)
    severities = []
    for _ in range(pains):
        code, severity = divmod(code, len(SEVERITIES))
        severities.append(SEVERITIES[severity])
    return model.TouchpointFacts(
        id=id,
        stage_id=stage_id,
        journey_map_id=map_id,
        moment_of_truth=bool(moment),
        emotion=EMOTIONS[emotion],
        open_pains=tuple(severities),
    )


ratings = st.builds(rating_of, st.sampled_from(KINDS), st.integers(0, PLACES - 1))
ages = st.floats(0, 180, exclude_max=True)
current_ages = st.floats(0, WINDOW_DAYS, exclude_max=True)
sentiments = st.none() | st.floats(-1, 1)


@st.composite
def worlds(draw: st.DrawFn, *, min_touchpoints: int = 0) -> World:
    ids: Iterator[int] = count(1)  # deterministic ids, so a failing example replays
    spots: list[Spot] = []
    stages: list[model.StageFacts] = []
    maps: list[model.MapFacts] = []
    for _ in range(draw(st.integers(1, 3))):
        map_id = UUID(int=next(ids))
        maps.append(model.MapFacts(map_id, draw(st.booleans())))
        for _ in range(draw(st.integers(1, 4))):
            stage_id = UUID(int=next(ids))
            stages.append(model.StageFacts(stage_id, map_id))
            at_least = min_touchpoints if not spots else 0
            for _ in range(draw(st.integers(at_least, 5))):
                code = draw(st.integers(0, TOUCHPOINT_CODES - 1))
                facts = touchpoint_of(code, UUID(int=next(ids)), stage_id, map_id)
                feedback = draw(st.lists(st.integers(0, ITEM_CODES - 1), max_size=6))
                spots.append(Spot(facts, tuple(item_of(c) for c in feedback)))
    return World(tuple(spots), tuple(stages), tuple(maps))


def every_score(health: model.WorkspaceHealth) -> dict[tuple[str, UUID | None], model.Score]:
    found: dict[tuple[str, UUID | None], model.Score] = {
        **{("touchpoint", k): s for k, s in health.touchpoints.items()},
        **{("stage", k): s for k, s in health.stages.items()},
        **{("map", k): s for k, s in health.maps.items()},
    }
    if health.workspace is not None:
        found[("workspace", None)] = health.workspace
    return found


def component(score: model.Score, name: str) -> model.Component | None:
    return next((c for c in score.components if c.name == name), None)


def close(a: float | None, b: float | None, tolerance: float = SLACK) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def pooled_mean(pairs: list[tuple[float, float]]) -> float | None:
    """The weighted mean of (weight, value) pairs; None without any."""
    return sum(w * v for w, v in pairs) / sum(w for w, _ in pairs) if pairs else None


# --- (a) bounded ----------------------------------------------------------------------


@PROPERTY
@given(worlds())
def test_every_score_component_and_confidence_is_bounded(world: World) -> None:
    """Every score, previous score and component value of every touchpoint, stage, map
    and the workspace lies in [0, 100] (no slack); every component weight, prior share
    and confidence in [0, 1], confidence being n / (n + 10); a touchpoint's component
    weights sum to 1; and everything that has something to score is scored."""
    health = world.health()
    assert set(health.touchpoints) == {s.facts.id for s in world.spots}
    assert set(health.stages) == {s.facts.stage_id for s in world.spots}
    assert set(health.maps) == {s.facts.journey_map_id for s in world.spots}
    counted = {m.id for m in world.maps if m.counts_for_workspace}
    assert (health.workspace is not None) == bool(counted & set(health.maps))
    for key, score in every_score(health).items():
        assert 0 <= score.score <= 100, key
        assert score.previous is None or 0 <= score.previous <= 100, key
        assert 0 <= score.confidence <= 1, key
        assert close(score.confidence, score.sample_size / (score.sample_size + K)), key
        for c in score.components:
            assert 0 <= c.value <= 100, (key, c)
            assert 0 <= c.weight <= 1, (key, c)
            assert 0 <= c.prior_share <= 1, (key, c)
    for touchpoint in health.touchpoints.values():
        assert close(sum(c.weight for c in touchpoint.components), 1)


# --- (b) deterministic ----------------------------------------------------------------


def assert_same_health(a: model.WorkspaceHealth, b: model.WorkspaceHealth) -> None:
    first, second = every_score(a), every_score(b)
    assert first.keys() == second.keys()
    for key, x in first.items():
        y = second[key]
        assert close(x.score, y.score), (key, x.score, y.score)
        assert close(x.previous, y.previous), (key, x.previous, y.previous)
        assert (x.sample_size, x.previous_sample_size) == (y.sample_size, y.previous_sample_size)
        assert close(x.confidence, y.confidence), key
        assert [c.name for c in x.components] == [c.name for c in y.components], key
        for c, d in zip(x.components, y.components, strict=True):
            assert close(c.value, d.value), (key, c, d)
            assert close(c.weight, d.weight), (key, c, d)
            assert close(c.prior_share, d.prior_share), (key, c, d)
            assert c.sample_size == d.sample_size, (key, c, d)


@PROPERTY
@given(worlds(), st.integers(0, 2**32))
def test_the_same_facts_give_the_same_scores_in_any_order(world: World, seed: int) -> None:
    """Computing twice from the same input gives equal results (exactly); computing from
    the touchpoints, stages and maps each in a shuffled order gives, per subject, the same
    score, previous score, sample sizes, confidence and components within 1e-9."""
    touchpoints = world.touchpoints()
    first = model.compute(touchpoints, world.stages, world.maps)
    assert model.compute(touchpoints, world.stages, world.maps) == first
    shuffle = random.Random(seed).sample
    shuffled = model.compute(
        shuffle(touchpoints, len(touchpoints)),
        shuffle(world.stages, len(world.stages)),
        shuffle(world.maps, len(world.maps)),
    )
    assert_same_health(first, shuffled)


# --- (c) monotone ---------------------------------------------------------------------


def assert_never_lower(before: model.WorkspaceHealth, after: model.WorkspaceHealth) -> None:
    """No subject lost its score, and no score or previous score went down (beyond 1e-9)."""
    old, new = every_score(before), every_score(after)
    assert old.keys() == new.keys()
    for key, was in old.items():
        now = new[key]
        assert now.score >= was.score - SLACK, (key, was.score, now.score)
        assert (now.previous is None) == (was.previous is None), key
        if was.previous is not None and now.previous is not None:
            assert now.previous >= was.previous - SLACK, (key, was.previous, now.previous)


@st.composite
def better_ratings(draw: st.DrawFn) -> tuple[MeasureKind, int, int]:
    """(kind, worse, better) of one kind: CSAT, RATING and NPS higher, CES lower."""
    kind = draw(st.sampled_from(KINDS))
    low, high = MEASURE_RANGES[kind]
    worse = draw(st.integers(low, high - 1))
    better = draw(st.integers(worse + 1, high))
    if kind is MeasureKind.CES:  # less effort is better
        worse, better = low + high - worse, low + high - better
    return kind, worse, better


@PROPERTY
@given(worlds(min_touchpoints=1), better_ratings(), ages, sentiments, st.data())
def test_a_better_rating_never_lowers_any_score(
    world: World,
    rating: tuple[MeasureKind, int, int],
    age: float,
    sentiment: float | None,
    data: Any,
) -> None:
    """One feedback item (anywhere in a touchpoint's feedback, either window) with a rating
    replaced by a better one of the same kind, all else equal: no touchpoint, stage, map
    or workspace score, current or previous, goes down. And when the normalised value
    rises (NPS 7 -> 8 does not: both passives), the touchpoint's score for that item's
    window strictly rises, so a model that ignored ratings would fail too."""
    kind, worse, better = rating
    index = data.draw(st.integers(0, len(world.spots) - 1), label="touchpoint")
    spot = world.spots[index]
    position = data.draw(st.integers(0, len(spot.feedback)), label="position")

    def rated(value: int) -> model.WorkspaceHealth:
        feedback = list(spot.feedback)
        feedback.insert(position, Item(kind, value, age, sentiment))
        return world.with_spot(index, replace(spot, feedback=tuple(feedback))).health()

    before, after = rated(worse), rated(better)
    assert_never_lower(before, after)
    if model.normalised_measure(kind, better) > model.normalised_measure(kind, worse):
        was, now = before.touchpoints[spot.facts.id], after.touchpoints[spot.facts.id]
        if age < WINDOW_DAYS:
            assert now.score > was.score
        else:
            assert now.previous is not None
            assert was.previous is not None
            assert now.previous > was.previous


@PROPERTY
@given(worlds(min_touchpoints=1), st.data())
def test_a_better_emotion_never_lowers_any_score(world: World, data: Any) -> None:
    """A touchpoint's emotion raised (e -> e' > e), or the best one (+2) given to a
    touchpoint without one: no score goes down; a raised emotion strictly raises the
    touchpoint's score."""
    index = data.draw(st.integers(0, len(world.spots) - 1), label="touchpoint")
    worse = data.draw(st.none() | st.integers(-2, 1), label="worse")
    better = 2 if worse is None else data.draw(st.integers(worse + 1, 2), label="better")
    spot = world.spots[index]

    def felt(emotion: int | None) -> model.WorkspaceHealth:
        facts = replace(spot.facts, emotion=emotion)
        return world.with_spot(index, replace(spot, facts=facts)).health()

    before, after = felt(worse), felt(better)
    assert_never_lower(before, after)
    if worse is not None:
        assert after.touchpoints[spot.facts.id].score > before.touchpoints[spot.facts.id].score


@PROPERTY
@given(worlds(min_touchpoints=1), st.sampled_from(SEVERITIES), st.data())
def test_resolving_an_open_pain_point_never_lowers_any_score(
    world: World, severity: Severity, data: Any
) -> None:
    """One open pain point (any severity, among any others) removed from a touchpoint: no
    score goes down; unless the remaining ones already floor the pain component at 0, the
    touchpoint's score strictly rises."""
    index = data.draw(st.integers(0, len(world.spots) - 1), label="touchpoint")
    spot = world.spots[index]
    pains = spot.facts.open_pains
    at = data.draw(st.integers(0, len(pains)), label="position")
    hurting = replace(spot.facts, open_pains=(*pains[:at], severity, *pains[at:]))
    before = world.with_spot(index, replace(spot, facts=hurting)).health()
    after = world.health()
    assert_never_lower(before, after)
    if sum(model.SEVERITY_WEIGHTS[s] for s in pains) < 100:
        assert after.touchpoints[spot.facts.id].score > before.touchpoints[spot.facts.id].score


# --- (d) shrinkage --------------------------------------------------------------------


@PROPERTY
@given(worlds())
def test_evidence_components_are_shrunk_toward_the_workspace_mean_by_n_over_n_plus_10(
    world: World,
) -> None:
    """Recomputed from the items themselves, for every touchpoint and each evidence
    component (satisfaction over measured items, sentiment over scored ones): with n own
    such items in the current window, own weighted mean o, and the workspace's weighted
    mean m pooled over every touchpoint's items, the component's value is
    (n*o + 10*m) / (n + 10) * 100, its prior share 10 / (n + 10), its sample size n; with
    no own items it is m * 100 itself; with no such item in the workspace it is absent."""
    health = world.health()
    for name, value_of in (("satisfaction", Item.satisfaction), ("sentiment", Item.felt)):
        own: dict[UUID, list[tuple[float, float]]] = {
            spot.facts.id: [
                (i.weight(), v)
                for i in spot.feedback
                if i.current and (v := value_of(i)) is not None
            ]
            for spot in world.spots
        }
        m = pooled_mean([pair for pairs in own.values() for pair in pairs])
        for touchpoint, pairs in own.items():
            found = component(health.touchpoints[touchpoint], name)
            if m is None:
                assert found is None, (name, found)
                continue
            assert found is not None, name
            n = len(pairs)
            expected = (n * (pooled_mean(pairs) or 0.0) + K * m) / (n + K) * 100
            assert close(found.value, expected), (name, found, expected)
            assert close(found.prior_share, K / (n + K)), (name, found)
            assert found.sample_size == n, (name, found)


@PROPERTY
@given(
    worlds(),
    ratings,
    st.lists(current_ages, min_size=1, max_size=12),
    st.lists(current_ages, min_size=1, max_size=12),
)
def test_fewer_ratings_stay_closer_to_the_workspace_mean(
    world: World, rating: tuple[MeasureKind, int], few: list[float], extra: list[float]
) -> None:
    """Two touchpoints A and B join a random world (a new stage of its first map), each
    rated only with the same answer, normalised v, A with fewer ratings than B (ages
    arbitrary in the window). With m the workspace's satisfaction mean afterwards: both
    satisfactions lie between m and v; A's is no farther from m than B's, strictly when
    v != m; each has gone exactly n / (n + 10) of the way from m to v; A's prior share
    is larger."""
    kind, value = rating
    stage, map_id = UUID(int=10**6), world.maps[0].id
    a, b = UUID(int=10**6 + 1), UUID(int=10**6 + 2)
    many = few + extra

    def rated(touchpoint: UUID, found: list[float]) -> Spot:
        facts = model.TouchpointFacts(touchpoint, stage, map_id)
        return Spot(facts, tuple(Item(kind, value, age, None) for age in found))

    grown = replace(
        world,
        spots=(*world.spots, rated(a, few), rated(b, many)),
        stages=(*world.stages, model.StageFacts(stage, map_id)),
    )
    health = grown.health()
    m = pooled_mean(
        [
            (i.weight(), v)
            for spot in grown.spots
            for i in spot.feedback
            if i.current and (v := i.satisfaction()) is not None
        ]
    )
    assert m is not None
    v = model.normalised_measure(kind, value)
    sat_a = component(health.touchpoints[a], "satisfaction")
    sat_b = component(health.touchpoints[b], "satisfaction")
    assert sat_a is not None
    assert sat_b is not None
    for found, n in ((sat_a, len(few)), (sat_b, len(many))):
        assert min(m, v) * 100 - SLACK <= found.value <= max(m, v) * 100 + SLACK
        if abs(v - m) > 1e-6:
            assert close((found.value / 100 - m) / (v - m), n / (n + K), 1e-6), (found, n)
    assert abs(sat_a.value - m * 100) <= abs(sat_b.value - m * 100) + SLACK
    if abs(v - m) > 1e-6:
        assert abs(sat_a.value - m * 100) < abs(sat_b.value - m * 100)
    assert sat_a.prior_share > sat_b.prior_share


# --- each level from the one below -----------------------------------------------------


@settings(PROPERTY, max_examples=100)
@given(worlds())
def test_each_level_is_the_documented_mean_of_the_one_below(world: World) -> None:
    """Stage = mean of its touchpoints weighted by (sample size + 1), moments of truth
    double; map = plain mean of its scored stages; workspace = plain mean of the counted
    (active, current-state) maps (docs/health-score.md)."""
    health = world.health()

    def mean(pairs: list[tuple[float, float]]) -> float:
        found = pooled_mean(pairs)
        assert found is not None
        return found

    for stage in world.stages:
        members = [s.touchpoint() for s in world.spots if s.facts.stage_id == stage.id]
        if not members:
            assert stage.id not in health.stages
            continue
        expected = mean(
            [
                (
                    (t.current.items + 1) * (2 if t.moment_of_truth else 1),
                    health.touchpoints[t.id].score,
                )
                for t in members
            ]
        )
        assert close(health.stages[stage.id].score, expected), stage
    for journey_map in world.maps:
        scored = [s.id for s in world.stages if s.journey_map_id == journey_map.id]
        scored = [s for s in scored if s in health.stages]
        if scored:
            expected = mean([(1.0, health.stages[s].score) for s in scored])
            assert close(health.maps[journey_map.id].score, expected), journey_map
    counted = [m.id for m in world.maps if m.counts_for_workspace and m.id in health.maps]
    if counted:
        assert health.workspace is not None
        assert close(health.workspace.score, mean([(1.0, health.maps[m].score) for m in counted]))


# --- (e) portfolio --------------------------------------------------------------------


@st.composite
def workspace_scores(draw: st.DrawFn) -> model.Score:
    sample = draw(st.integers(0, 500))
    previous_sample = draw(st.integers(0, 500))
    names = draw(st.lists(st.sampled_from(list(model.COMPONENT_WEIGHTS)), unique=True))
    return model.Score(
        score=draw(st.floats(0, 100)),
        components=tuple(
            model.Component(n, draw(st.floats(0, 100)), model.COMPONENT_WEIGHTS[n]) for n in names
        ),
        sample_size=sample,
        confidence=model.confidence_of(sample),
        previous=draw(st.floats(0, 100)) if previous_sample else None,
        previous_sample_size=previous_sample,
    )


@PROPERTY
@given(st.lists(workspace_scores(), max_size=12))
def test_the_portfolio_is_the_mean_of_its_workspaces(scores: list[model.Score]) -> None:
    """The portfolio score is the plain mean of the workspace scores and lies in [0, 100];
    its sample is their sum, its confidence in [0, 1], each component the mean over the
    workspaces that have it and in [0, 100]; its previous score the mean of the previous
    scores, a workspace without one counted as unchanged (None when none has one); no
    workspaces, no portfolio."""
    found = model.portfolio(iter(scores))
    if not scores:
        assert found is None
        return
    assert found is not None
    assert close(found.score, sum(s.score for s in scores) / len(scores))
    assert 0 <= found.score <= 100
    assert found.sample_size == sum(s.sample_size for s in scores)
    assert 0 <= found.confidence <= 1
    for c in found.components:
        values = [x.value for s in scores if (x := component(s, c.name)) is not None]
        assert close(c.value, sum(values) / len(values)), c
        assert 0 <= c.value <= 100, c
    if any(s.previous is not None for s in scores):
        before = [s.score if s.previous is None else s.previous for s in scores]
        assert close(found.previous, sum(before) / len(before))
    else:
        assert found.previous is None
