"""The promised properties of the pure health model, over random workspaces (hypothesis).

A world is 1-3 journey maps (each counted for the workspace or not), 1-4 stages per
map, 0-4 touchpoints per stage, each with an emotion (None or -2..2), a moment-of-truth
flag, declared traffic or none, 0-3 open pain points, and answers in both windows (any
measure kind, any value in its range, maybe scored sentiments); stages and maps may
have feedback of their own. Answers become evidence as the SQL sums it
(``tests.health.answers``). No database here; ``test_gaming`` holds the anti-gaming
properties, this file the general ones (bounded, deterministic, monotone, the
documented means).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import count
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.health import model
from backend.measures.scales import DEFAULT_SCALES
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Severity
from tests.health.answers import Answer, evidence

SLACK = 1e-9
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# One branch per kind (one_of, not sampled_from().flatmap(): the same answers, drawn
# without building a strategy for every draw, which was most of these tests' time).
answer = st.one_of(
    [
        st.tuples(st.just(k), st.integers(DEFAULT_SCALES[k].low, DEFAULT_SCALES[k].high))
        for k in MeasureKind
    ]
)


@dataclass(frozen=True)
class Said:
    """What customers said in one window: answers and scored sentiments."""

    answers: tuple[Answer, ...] = ()
    sentiments: tuple[float, ...] = ()

    def evidence(self) -> model.Evidence:
        return evidence(self.answers, self.sentiments)


said = st.builds(
    Said,
    st.lists(answer, max_size=9).map(tuple),
    st.lists(st.floats(-1, 1), max_size=4).map(tuple),
)


@dataclass(frozen=True)
class World:
    touchpoints: tuple[tuple[model.TouchpointFacts, Said, Said], ...]
    stages: tuple[model.StageFacts, ...]
    maps: tuple[model.MapFacts, ...]

    def facts(self) -> list[model.TouchpointFacts]:
        return [
            replace(t, current=now.evidence(), previous=before.evidence())
            for t, now, before in self.touchpoints
        ]

    def health(self) -> model.WorkspaceHealth:
        return model.compute(self.facts(), self.stages, self.maps)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    ids: Iterator[int] = count(1)  # deterministic ids, so a failing example replays
    touchpoints: list[tuple[model.TouchpointFacts, Said, Said]] = []
    stages: list[model.StageFacts] = []
    maps: list[model.MapFacts] = []

    def own() -> dict[str, Any]:
        if not draw(st.booleans()):
            return {}
        return {"current": draw(said).evidence(), "previous": draw(said).evidence()}

    for _ in range(draw(st.integers(1, 3))):
        map_id = UUID(int=next(ids))
        maps.append(model.MapFacts(map_id, draw(st.booleans()), **own()))
        for _ in range(draw(st.integers(1, 4))):
            stage_id = UUID(int=next(ids))
            stages.append(model.StageFacts(stage_id, map_id, **own()))
            for _ in range(draw(st.integers(0, 4))):
                facts = model.TouchpointFacts(
                    UUID(int=next(ids)),
                    stage_id,
                    map_id,
                    moment_of_truth=draw(st.booleans()),
                    traffic=draw(st.none() | st.integers(0, 1000)),
                    emotion=draw(st.none() | st.integers(-2, 2)),
                    open_pains=tuple(draw(st.lists(st.sampled_from(list(Severity)), max_size=3))),
                )
                touchpoints.append((facts, draw(said), draw(said)))
    return World(tuple(touchpoints), tuple(stages), tuple(maps))


def every_score(health: model.WorkspaceHealth) -> dict[tuple[str, UUID | None], model.Score]:
    found: dict[tuple[str, UUID | None], model.Score] = {
        **{("touchpoint", k): s for k, s in health.touchpoints.items()},
        **{("stage", k): s for k, s in health.stages.items()},
        **{("map", k): s for k, s in health.maps.items()},
    }
    if health.workspace is not None:
        found[("workspace", None)] = health.workspace
    return found


def close(a: float | None, b: float | None, tolerance: float = SLACK) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


@PROPERTY
@given(worlds())
def test_every_score_is_bounded_inside_its_interval_and_blended_from_its_components(
    world: World,
) -> None:
    """Every score, bound and component value in [0, 100]; low <= score <= high; the
    confidence is 1 - width / 100; component weights in [0, 1]; the components blend to
    the score (sum of value x weight), at every level; a score exists exactly when the
    state is SCORED, and a touchpoint is scored exactly when it has 5 readings."""
    health = world.health()
    for key, score in every_score(health).items():
        assert (score.score is not None) == (score.state is model.State.SCORED), key
        if score.score is None:
            assert score.low is None
            assert score.high is None
            assert score.confidence is None
            continue
        assert score.low is not None
        assert score.high is not None
        assert 0 <= score.low <= score.score + SLACK, key
        assert score.score <= score.high + SLACK, key
        assert score.high <= 100, key
        assert close(score.confidence, 1 - (score.high - score.low) / 100), key
        for c in score.components:
            assert 0 <= c.value <= 100 + SLACK, (key, c)
            assert 0 <= c.weight <= 1 + SLACK, (key, c)
        assert close(sum(c.weight * c.value for c in score.components), score.score, 1e-7), key
    for facts in world.facts():
        n = sum(m.n for m in facts.current.values())
        scored = health.touchpoints[facts.id].score is not None
        assert scored == (n >= model.MIN_EVIDENCE)


@PROPERTY
@given(worlds(), st.integers(0, 2**32))
def test_the_same_facts_give_the_same_scores_in_any_order(world: World, seed: int) -> None:
    touchpoints = world.facts()
    first = model.compute(touchpoints, world.stages, world.maps)
    shuffle = random.Random(seed).sample
    shuffled = model.compute(
        shuffle(touchpoints, len(touchpoints)),
        shuffle(world.stages, len(world.stages)),
        shuffle(world.maps, len(world.maps)),
    )
    a, b = every_score(first), every_score(shuffled)
    assert a.keys() == b.keys()
    for key, x in a.items():
        y = b[key]
        assert x.state == y.state, key
        for field in ("score", "low", "high", "previous"):
            assert close(getattr(x, field), getattr(y, field)), (key, field)
        assert (x.sample_size, x.scored_parts, x.parts) == (y.sample_size, y.scored_parts, y.parts)


def assert_never_lower(before: model.WorkspaceHealth, after: model.WorkspaceHealth) -> None:
    """No subject lost or gained a score, and no score went down (beyond 1e-9)."""
    old, new = every_score(before), every_score(after)
    assert old.keys() == new.keys()
    for key, was in old.items():
        now = new[key]
        assert now.state == was.state, key
        if was.score is not None and now.score is not None:
            assert now.score >= was.score - SLACK, (key, was.score, now.score)


def better(kind: MeasureKind, value: int, data: st.DataObject) -> int:
    return data.draw(st.integers(value, DEFAULT_SCALES[kind].high))


@PROPERTY
@given(worlds(), st.data())
def test_a_better_answer_never_lowers_any_score(world: World, data: st.DataObject) -> None:
    """Any answer changed to a better one on its own scale (CES 2.0: higher is easier),
    or any scored sentiment raised, lowers no touchpoint, stage, map or workspace."""
    spots = [i for i, (_, now, _) in enumerate(world.touchpoints) if now.answers or now.sentiments]
    if not spots:
        return
    index = data.draw(st.sampled_from(spots))
    facts, now, before = world.touchpoints[index]
    if now.answers and data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(now.answers) - 1))
        kind, value = now.answers[at]
        answers = list(now.answers)
        answers[at] = (kind, better(kind, value, data))
        changed = replace(now, answers=tuple(answers))
    elif now.sentiments:
        at = data.draw(st.integers(0, len(now.sentiments) - 1))
        sentiments = list(now.sentiments)
        sentiments[at] = data.draw(st.floats(sentiments[at], 1))
        changed = replace(now, sentiments=tuple(sentiments))
    else:
        return
    spots_after = list(world.touchpoints)
    spots_after[index] = (facts, changed, before)
    assert_never_lower(world.health(), replace(world, touchpoints=tuple(spots_after)).health())


@PROPERTY
@given(worlds(), st.data())
def test_a_better_emotion_or_a_resolved_pain_point_never_lowers_any_score(
    world: World, data: st.DataObject
) -> None:
    if not world.touchpoints:
        return
    index = data.draw(st.integers(0, len(world.touchpoints) - 1))
    facts, now, before = world.touchpoints[index]
    if facts.open_pains and data.draw(st.booleans()):
        gone = data.draw(st.integers(0, len(facts.open_pains) - 1))
        pains = facts.open_pains[:gone] + facts.open_pains[gone + 1 :]
        changed = replace(facts, open_pains=pains)
    else:
        emotion = data.draw(st.integers(facts.emotion if facts.emotion is not None else -2, 2))
        changed = replace(facts, emotion=emotion)
    spots = list(world.touchpoints)
    spots[index] = (changed, now, before)
    if facts.emotion is None and changed.emotion is not None and changed.emotion < 0:
        return  # mapping a negative emotion where there was none is not "better"
    assert_never_lower(world.health(), replace(world, touchpoints=tuple(spots)).health())


def importance_of(world: World, health: model.WorkspaceHealth) -> dict[UUID, float]:
    """The documented rule, written out again: declared traffic, else the median of
    the map's scored declarations (else 1); a moment of truth three times."""
    found = {}
    for facts, _, _ in world.touchpoints:
        declared = [
            t.traffic
            for t, _, _ in world.touchpoints
            if t.journey_map_id == facts.journey_map_id
            and t.traffic is not None
            and health.touchpoints[t.id].score is not None
        ]
        base = (
            facts.traffic
            if facts.traffic is not None
            else statistics.median(declared)
            if declared
            else 1
        )
        found[facts.id] = base * (3 if facts.moment_of_truth else 1)
    return found


def weighted_mean(pairs: list[tuple[float, float | None]]) -> float | None:
    scored = [(w, s) for w, s in pairs if s is not None]
    if not scored:
        return None
    total = sum(w for w, _ in scored)
    if total == 0:
        return sum(s for _, s in scored) / len(scored)
    return sum(w * s for w, s in scored) / total


@settings(PROPERTY, max_examples=100)
@given(worlds())
def test_each_level_is_the_documented_mean_of_the_one_below(world: World) -> None:
    """Stage = importance-weighted mean of its scored touchpoints (and of its own
    feedback, at their mean importance); map = mean of its scored stages weighted by
    their scored importance (and of its own feedback, at the mean stage weight);
    workspace = plain mean of the counted maps that have a score."""
    health = world.health()
    weights = importance_of(world, health)
    stage_weight: dict[UUID, float] = {}
    for stage in world.stages:
        members = [t for t, _, _ in world.touchpoints if t.stage_id == stage.id]
        pairs: list[tuple[float, float | None]] = [
            (weights[t.id], health.touchpoints[t.id].score) for t in members
        ]
        if stage.id in health.own:
            typical = sum(weights[t.id] for t in members) / len(members) if members else 1.0
            pairs.append((typical, health.own[stage.id].score))
        assert close(health.stages[stage.id].score, weighted_mean(pairs)), stage
        stage_weight[stage.id] = sum(w for w, s in pairs if s is not None)
    for journey_map in world.maps:
        stages = [s.id for s in world.stages if s.journey_map_id == journey_map.id]
        pairs = [(stage_weight[s], health.stages[s].score) for s in stages]
        if journey_map.id in health.own:
            positive = [stage_weight[s] for s in stages if stage_weight[s] > 0]
            typical = sum(positive) / len(positive) if positive else 1.0
            pairs.append((typical, health.own[journey_map.id].score))
        assert close(health.maps[journey_map.id].score, weighted_mean(pairs)), journey_map
    counted = [m.id for m in world.maps if m.counts_for_workspace]
    if counted:
        assert health.workspace is not None
        expected = weighted_mean([(1.0, health.maps[m].score) for m in counted])
        assert close(health.workspace.score, expected)


@PROPERTY
@given(st.lists(st.none() | st.floats(0, 100), max_size=12))
def test_the_portfolio_is_the_mean_of_its_scored_workspaces(values: list[float | None]) -> None:
    scores = [
        model.insufficient()
        if v is None
        else model.Score(model.State.SCORED, v, max(0, v - 5), min(100, v + 5), 2.5)
        for v in values
    ]
    found = model.portfolio(iter(scores))
    if not scores:
        assert found is None
        return
    assert found is not None
    scored = [v for v in values if v is not None]
    assert close(found.score, sum(scored) / len(scored) if scored else None)
    assert (found.scored_parts, found.parts) == (len(scored), len(values))
