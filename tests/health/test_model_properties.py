"""The SPEC §5 properties of the health model, over random workspaces (hypothesis).

Worlds are built the way the database builds evidence: feedback items with a measure,
a value in its range, an age and maybe a sentiment, summed with the reference
arithmetic (``normalised_measure``, ``recency_weight``) into each window's tallies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.feedback.vocabulary import MEASURE_RANGES, MeasureKind
from backend.health import model
from backend.journeys.vocabulary import Severity

SLACK = 1e-9


@dataclass(frozen=True)
class Item:
    kind: MeasureKind | None
    value: int | None
    age_days: float
    sentiment: float | None


@st.composite
def items(draw: st.DrawFn) -> Item:
    kind = draw(st.none() | st.sampled_from(list(MeasureKind)))
    value = None
    if kind is not None:
        low, high = MEASURE_RANGES[kind]
        value = draw(st.integers(low, high))
    sentiment = draw(st.none() | st.floats(-1, 1))
    if kind is None and sentiment is None:
        sentiment = 0.0
    return Item(kind, value, draw(st.floats(0, 179.9)), sentiment)


def evidence_of(found: list[Item]) -> tuple[model.Evidence, model.Evidence]:
    """(current, previous) evidence, summed as evidence.py's SQL does."""

    def window(chosen: list[Item], shift: float) -> model.Evidence:
        satisfaction, sentiment = model.Tally(), model.Tally()
        for item in chosen:
            w = model.recency_weight(timedelta(days=item.age_days - shift))
            if item.kind is not None and item.value is not None:
                v = model.normalised_measure(item.kind, item.value)
                satisfaction += model.Tally(w, w * v, 1)
            if item.sentiment is not None:
                sentiment += model.Tally(w, w * (item.sentiment + 1) / 2, 1)
        return model.Evidence(satisfaction, sentiment, len(chosen))

    return (
        window([i for i in found if i.age_days < 90], 0),
        window([i for i in found if i.age_days >= 90], 90),
    )


@dataclass(frozen=True)
class Spot:
    """A touchpoint as drawn: its facts without evidence, and its feedback."""

    facts: model.TouchpointFacts
    feedback: list[Item]


@dataclass(frozen=True)
class World:
    spots: list[Spot]
    stages: list[model.StageFacts]
    maps: list[model.MapFacts]

    def touchpoints(self) -> list[model.TouchpointFacts]:
        found = []
        for spot in self.spots:
            current, previous = evidence_of(spot.feedback)
            found.append(replace(spot.facts, current=current, previous=previous))
        return found

    def health(self) -> model.WorkspaceHealth:
        return model.compute(self.touchpoints(), self.stages, self.maps)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    spots: list[Spot] = []
    stages: list[model.StageFacts] = []
    maps: list[model.MapFacts] = []
    for _ in range(draw(st.integers(1, 3))):
        map_id = uuid4()
        maps.append(model.MapFacts(map_id, draw(st.booleans())))
        for _ in range(draw(st.integers(1, 4))):
            stage_id = uuid4()
            stages.append(model.StageFacts(stage_id, map_id))
            for _ in range(draw(st.integers(0, 4))):
                facts = model.TouchpointFacts(
                    id=uuid4(),
                    stage_id=stage_id,
                    journey_map_id=map_id,
                    moment_of_truth=draw(st.booleans()),
                    emotion=draw(st.none() | st.integers(-2, 2)),
                    open_pains=tuple(draw(st.lists(st.sampled_from(list(Severity)), max_size=5))),
                )
                spots.append(Spot(facts, draw(st.lists(items(), max_size=8))))
    return World(spots, stages, maps)


def every_score(health: model.WorkspaceHealth) -> dict[UUID | str, model.Score]:
    found: dict[UUID | str, model.Score] = {
        **health.touchpoints,
        **health.stages,
        **health.maps,
    }
    if health.workspace is not None:
        found["workspace"] = health.workspace
    return found


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(worlds())
def test_every_score_and_component_is_bounded(world: World) -> None:
    for score in every_score(world.health()).values():
        assert 0 <= score.score <= 100
        assert 0 <= score.confidence <= 1
        if score.previous is not None:
            assert 0 <= score.previous <= 100
        for component in score.components:
            assert 0 - SLACK <= component.value <= 100 + SLACK
            assert 0 <= component.prior_share <= 1


@PROPERTY
@given(worlds(), st.randoms())
def test_the_same_facts_give_the_same_scores_in_any_order(world: World, rng: object) -> None:
    first = every_score(world.health())
    assert every_score(world.health()) == first
    shuffled = list(world.touchpoints())
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    again = every_score(model.compute(shuffled, world.stages, world.maps))
    assert again.keys() == first.keys()
    for key, score in first.items():
        assert math.isclose(again[key].score, score.score, abs_tol=SLACK)


def _better(item: Item) -> Item | None:
    """The same answer, one step better on its scale; None when it is already the best."""
    if item.kind is None or item.value is None:
        return None
    low, high = MEASURE_RANGES[item.kind]
    step = -1 if item.kind is MeasureKind.CES else 1
    value = item.value + step
    return replace(item, value=value) if low <= value <= high else None


def _never_lower(before: model.WorkspaceHealth, after: model.WorkspaceHealth) -> None:
    old, new = every_score(before), every_score(after)
    assert old.keys() == new.keys()
    for key, score in old.items():
        assert new[key].score >= score.score - SLACK, (key, score.score, new[key].score)


@PROPERTY
@given(worlds(), st.data())
def test_a_better_rating_never_lowers_any_score(world: World, data: st.DataObject) -> None:
    rated = [
        (s, n)
        for s, spot in enumerate(world.spots)
        for n, i in enumerate(spot.feedback)
        if _better(i) is not None
    ]
    if not rated:
        return
    s, n = data.draw(st.sampled_from(rated))
    spot = world.spots[s]
    improved = [*spot.feedback]
    better = _better(improved[n])
    assert better is not None
    improved[n] = better
    spots = [*world.spots]
    spots[s] = Spot(spot.facts, improved)
    _never_lower(world.health(), replace(world, spots=spots).health())


@PROPERTY
@given(worlds(), st.data())
def test_a_better_emotion_or_a_resolved_pain_point_never_lowers_any_score(
    world: World, data: st.DataObject
) -> None:
    if not world.spots:
        return
    s = data.draw(st.integers(0, len(world.spots) - 1))
    spot = world.spots[s]
    facts = spot.facts
    if facts.open_pains:
        fewer = replace(facts, open_pains=facts.open_pains[1:])
    elif facts.emotion is not None and facts.emotion < 2:
        fewer = replace(facts, emotion=facts.emotion + 1)
    else:
        return
    spots = [*world.spots]
    spots[s] = Spot(fewer, spot.feedback)
    _never_lower(world.health(), replace(world, spots=spots).health())


@PROPERTY
@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 5))
def test_a_small_sample_is_pulled_toward_the_workspace_mean(
    n: int, own_rating: int, other_rating: int
) -> None:
    """One touchpoint with n ratings beside one with 200: the smaller n, the closer its
    satisfaction sits to the workspace mean; its weight is exactly n / (n + 10)."""
    stage, map_id = uuid4(), uuid4()
    mine, theirs = uuid4(), uuid4()

    def spot(touchpoint: UUID, rating: int, count: int) -> model.TouchpointFacts:
        current, previous = evidence_of([Item(MeasureKind.CSAT, rating, 1.0, None)] * count)
        return model.TouchpointFacts(touchpoint, stage, map_id, current=current, previous=previous)

    health = model.compute(
        [spot(mine, own_rating, n), spot(theirs, other_rating, 200)],
        [model.StageFacts(stage, map_id)],
        [model.MapFacts(map_id, True)],
    )
    [satisfaction] = [c for c in health.touchpoints[mine].components if c.name == "satisfaction"]
    own = model.normalised_measure(MeasureKind.CSAT, own_rating) * 100
    pooled = (n * own + 200 * model.normalised_measure(MeasureKind.CSAT, other_rating) * 100) / (
        n + 200
    )
    expected = (n * own + model.SHRINK_K * pooled) / (n + model.SHRINK_K)
    assert math.isclose(satisfaction.value, expected, abs_tol=1e-6)
    assert math.isclose(satisfaction.prior_share, model.SHRINK_K / (n + model.SHRINK_K))


@PROPERTY
@given(st.lists(st.floats(0, 100), min_size=1, max_size=10))
def test_the_portfolio_is_the_mean_of_its_workspaces(scores: list[float]) -> None:
    found = model.portfolio(model.Score(s, (), 1, 0.1) for s in scores)
    assert found is not None
    assert math.isclose(found.score, sum(scores) / len(scores), abs_tol=1e-9)
    assert 0 <= found.score <= 100
    assert model.portfolio([]) is None
