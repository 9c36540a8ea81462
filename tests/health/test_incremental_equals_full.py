"""Incremental recalculation equals a full one, on the real database.

Random sequences of changes to a fresh workspace: feedback on random touchpoints, or on
a stage or the map alone (any measure or none, any value, ages on and off the windows'
edges, maybe a scored sentiment), a sentiment scored later, pain points opened and
resolved, emotions changed. Each change
writes the request its outbox handler writes; a pass follows it or, when the example
says so, a later change's pass takes several at once. Then every stored score and
evidence row must be what one full pass at the same moment writes, and the scores
must be what the pure model gives for evidence summed in Python from the feedback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from backend.db.engine import Database
from backend.health import model, recalculate
from backend.health.repository.evidence import COLUMNS
from backend.health.repository.facts import load_facts
from backend.health.repository.scores import components_of
from backend.measures.scales import DEFAULT_SCALES, item_index
from backend.measures.stats import Moments
from backend.models import (
    Feedback,
    HealthEvidence,
    HealthRequest,
    HealthScore,
    PainPoint,
    Touchpoint,
)
from backend.vocabulary.feedback import MeasureKind, SentimentStatus
from backend.vocabulary.journeys import PainPointStatus, Severity
from tests.fixtures.tenants import seed_tenant
from tests.health.worlds import World, add_feedback, build_world

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOUCHPOINTS = 6  # 2 stages x 3
# Where an item is placed: a touchpoint, or (the three after) stage 0 or 1 alone, the map alone.
PLACES = TOUCHPOINTS + 3
SAME = 1e-9  # incremental against full: the same SQL, summed in another order at most
REFERENCE = 1e-6  # against sums in Python
_serial = count()

# Ages in days: both windows' edges exactly (90 is the previous window's first day, 180
# is out), just inside them, the future, beyond 180, and anything in between.
ages = st.sampled_from([0.0, 1e-6, 89.999999, 90.0, 90.000001, 179.999999, 180.0, -1.0, 200.0])
ages |= st.floats(-5, 190)


@st.composite
def items(draw: st.DrawFn) -> tuple[Any, ...]:
    """(place index, measure, value, sentiment, age in days) of one feedback item."""
    kind = draw(st.none() | st.sampled_from(list(MeasureKind)))
    value = (
        None
        if kind is None
        else draw(st.integers(DEFAULT_SCALES[kind].low, DEFAULT_SCALES[kind].high))
    )
    sentiment = draw(st.none() | st.floats(-1, 1))
    place = draw(st.integers(0, TOUCHPOINTS - 1) | st.integers(0, PLACES - 1))
    return (place, kind, value, sentiment, draw(ages))


# A feedback batch (1-4 items on any touchpoints) is one request naming each touchpoint.
batches = st.tuples(st.just("feedback"), st.lists(items(), min_size=1, max_size=4))
changes = st.one_of(
    batches,
    batches,  # feedback twice as often as each structural change
    st.tuples(st.just("sentiment"), st.integers(0, TOUCHPOINTS - 1), st.floats(-1, 1)),
    st.tuples(st.just("pain"), st.integers(0, TOUCHPOINTS - 1), st.sampled_from(list(Severity))),
    st.tuples(st.just("resolve"), st.integers(0, TOUCHPOINTS - 1)),
    st.tuples(st.just("emotion"), st.integers(0, TOUCHPOINTS - 1), st.integers(-2, 2)),
)
# Each step: a change, and whether a pass runs right after it (the last step's always does).
steps = st.lists(st.tuples(changes, st.booleans()), min_size=3, max_size=14)


@dataclass
class Given:
    """What the test wrote: the world and its feedback (subject it is placed on, kind,
    value, sentiment, occurred_at, id), for the reference sums."""

    world: World
    feedback: list[list[Any]] = field(default_factory=list)
    pending: int = 0


async def apply(database: Database, given: Given, change: tuple[Any, ...]) -> None:
    """Make one change and write the request its outbox handler would."""
    world = given.world
    if change[0] == "feedback":
        touched: list[UUID] = []
        for index, measure, value, sentiment, age in change[1]:
            touchpoint = world.touchpoint_ids[index] if index < TOUCHPOINTS else None
            stage = (
                world.stage_ids[index - TOUCHPOINTS] if TOUCHPOINTS <= index < PLACES - 1 else None
            )
            occurred_at = NOW - timedelta(days=age)
            feedback_id = await add_feedback(
                database,
                world,
                touchpoint,
                stage_id=stage,
                measure=measure,
                value=value,
                sentiment=sentiment,
                occurred_at=occurred_at,
            )
            placed = touchpoint or stage or world.map_id
            given.feedback.append([placed, measure, value, sentiment, occurred_at, feedback_id])
            if touchpoint is not None and touchpoint not in touched:
                touched.append(touchpoint)
        await note(database, given, recalculate.FEEDBACK_RECEIVED, touched)
        return
    kind, touchpoint = change[0], world.touchpoint_ids[change[1]]
    async with database.transaction(world.binding(), write=True) as session:
        if kind == "sentiment":  # the feedback handler scores the touchpoint's latest text
            mine = [f for f in given.feedback if f[0] == touchpoint]
            if not mine:
                return
            mine[-1][3] = change[2]
            await session.execute(
                update(Feedback)
                .where(Feedback.id == mine[-1][5])
                .values(sentiment=change[2], sentiment_status=SentimentStatus.SCORED)
            )
        elif kind == "pain":
            session.add(
                PainPoint(
                    workspace_id=world.workspace_id,
                    touchpoint_id=touchpoint,
                    title="It hurts",
                    severity=change[2],
                    status=PainPointStatus.OPEN,
                )
            )
        elif kind == "resolve":
            pain = await session.scalar(
                select(PainPoint.id)
                .where(
                    PainPoint.touchpoint_id == touchpoint,
                    PainPoint.status == PainPointStatus.OPEN,
                )
                .limit(1)
            )
            if pain is None:
                return
            await session.execute(
                update(PainPoint)
                .where(PainPoint.id == pain)
                .values(status=PainPointStatus.RESOLVED)
            )
        else:
            await session.execute(
                update(Touchpoint).where(Touchpoint.id == touchpoint).values(emotion=change[2])
            )
    if kind == "sentiment":
        await note(database, given, recalculate.FEEDBACK_RECEIVED, [touchpoint])
    else:
        await note(database, given, recalculate.STRUCTURE_CHANGED, [])


async def note(database: Database, given: Given, reason: str, touched: list[UUID]) -> None:
    """The request the change's outbox handler writes, in a transaction of its own."""
    async with database.transaction(given.world.binding(), write=True) as session:
        await recalculate.request(session, given.world.workspace_id, reason, touched)
    given.pending += max(1, len(touched))  # a row per touchpoint named, or one without


async def incremental_pass(database: Database, given: Given) -> None:
    async with database.transaction(given.world.binding(), write=True) as session:
        done = await recalculate.recalculate(session, given.world.workspace_id, as_of=NOW)
    assert done is not None
    assert not done.full
    assert done.requests == given.pending
    given.pending = 0


async def stored(database: Database, world: World) -> tuple[dict[UUID, Any], dict[UUID, Any]]:
    """Every score row and every evidence row of the workspace, as comparable tuples."""
    async with database.transaction(world.binding()) as session:
        scores = (
            await session.scalars(
                select(HealthScore).where(HealthScore.workspace_id == world.workspace_id)
            )
        ).all()
        evidence = (
            await session.scalars(
                select(HealthEvidence).where(HealthEvidence.workspace_id == world.workspace_id)
            )
        ).all()
        pending = await session.scalar(
            select(func.count())
            .select_from(HealthRequest)
            .where(HealthRequest.workspace_id == world.workspace_id)
        )
    assert pending == 0
    return (
        {
            row.id: (
                row.subject_type,
                row.score,
                row.previous_score,
                row.sample_size,
                row.previous_sample_size,
                row.confidence,
                [
                    (c.name, c.value, c.weight, c.sample_size, c.prior_share)
                    for c in components_of(row.components)
                ],
                row.state,
                row.low,
                row.high,
                row.standard_error,
                row.scored_parts,
                row.parts,
                row.computed_at,
            )
            for row in scores
        },
        {row.id: (row.level, row.as_of, *(getattr(row, n) for n in COLUMNS)) for row in evidence},
    )


def close(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y, tolerance) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def reference_evidence(feedback: list[list[Any]], subject: UUID) -> tuple[Any, Any]:
    """(current, previous) evidence of one subject, summed in Python: each answer's item
    index on its kind's default scale, each scored sentiment's (s + 1) x 50."""
    windows: list[dict[model.Metric, Moments]] = [{}, {}]
    for placed, kind, value, sentiment, occurred_at, _ in feedback:
        age = NOW - occurred_at
        if placed != subject or not timedelta(0) <= age < 2 * model.WINDOW:
            continue
        window = windows[age >= model.WINDOW]
        readings = []
        if kind is not None:
            readings.append((model.metric_of(kind), item_index(DEFAULT_SCALES[kind], value)))
        if sentiment is not None:
            readings.append((model.Metric.SENTIMENT, model.sentiment_index(sentiment)))
        for metric, x in readings:
            window[metric] = window.get(metric, Moments()) + Moments(1, x, x * x)
    return windows[0], windows[1]


async def assert_scores_follow_the_reference(
    database: Database, given: Given, rows: dict[UUID, Any]
) -> None:
    world = given.world
    async with database.transaction(world.binding()) as session:
        touchpoints, stages, maps = await load_facts(session, world.workspace_id)

    def summed(f: Any) -> Any:
        current, previous = reference_evidence(given.feedback, f.id)
        return replace(f, current=current, previous=previous)

    health = model.compute(
        [summed(t) for t in touchpoints], [summed(s) for s in stages], [summed(m) for m in maps]
    )
    expected = {**health.touchpoints, **health.stages, **health.maps}
    if health.workspace is not None:
        expected[world.workspace_id] = health.workspace
    assert expected.keys() == rows.keys()
    for subject, score in expected.items():
        row = rows[subject]
        mine = (score.score, score.previous, score.sample_size, score.previous_sample_size)
        assert close(list(row[1:5]), list(mine), REFERENCE), (subject, row, score)
        assert row[7] == score.state, (subject, row, score)
        assert close([row[8], row[9]], [score.low, score.high], REFERENCE), (subject, row, score)
        assert close(row[5], score.confidence, REFERENCE), (subject, row, score)
        assert close(
            row[6],
            [(c.name, c.value, c.weight, c.sample_size, c.prior_share) for c in score.components],
            REFERENCE,
        ), (subject, row, score)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
async def test_incremental_passes_equal_a_full_one(
    database: Database, steps: list[tuple[tuple[Any, ...], bool]]
) -> None:
    """After any sequence of changes, each followed by its request and (maybe) an
    incremental pass at NOW, every score row (state, score, interval, previous score,
    sample sizes, coverage, components) and every evidence row equals, within 1e-9, what
    a full pass at NOW then writes; and the scores are the model's over evidence summed
    in Python."""
    # The fixture empties tables after the test, not between examples: a workspace each.
    tenant = await seed_tenant(database, f"incremental-{next(_serial)}", workspaces=1)
    world = await build_world(database, tenant.workspace_ids[0], stages=2, touchpoints_per_stage=3)
    assert len(world.touchpoint_ids) == TOUCHPOINTS
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.recalculate(session, world.workspace_id, full=True, as_of=NOW)
    given = Given(world)
    for n, (change, pass_now) in enumerate(steps):
        await apply(database, given, change)
        if given.pending and (pass_now or n == len(steps) - 1):
            await incremental_pass(database, given)
    incremental_scores, incremental_evidence = await stored(database, world)

    async with database.transaction(world.binding(), write=True) as session:
        done = await recalculate.recalculate(session, world.workspace_id, full=True, as_of=NOW)
    assert done is not None
    assert done.full
    full_scores, full_evidence = await stored(database, world)

    assert incremental_evidence.keys() == full_evidence.keys()
    for key, row in full_evidence.items():
        assert close(incremental_evidence[key], row, SAME), (key, incremental_evidence[key], row)
    assert incremental_scores.keys() == full_scores.keys()
    for subject, row in full_scores.items():
        assert close(incremental_scores[subject], row, SAME), (
            subject,
            incremental_scores[subject],
            row,
        )
    await assert_scores_follow_the_reference(database, given, full_scores)


async def test_a_burst_of_50_requests_is_taken_in_one_pass(database: Database) -> None:
    """Fifty requests for fifty different touchpoints, each written in its own
    transaction as the outbox handlers write them, are all taken by the next pass (which
    refreshes exactly those fifty); the pass after it finds nothing and returns None."""
    tenant = await seed_tenant(database, "burst", workspaces=1)
    world = await build_world(database, tenant.workspace_ids[0], stages=5, touchpoints_per_stage=10)
    assert len(set(world.touchpoint_ids)) == 50
    for touchpoint in world.touchpoint_ids:
        await add_feedback(database, world, touchpoint, occurred_at=NOW - timedelta(days=1))
        async with database.transaction(world.binding(), write=True) as session:
            await recalculate.request(
                session, world.workspace_id, recalculate.FEEDBACK_RECEIVED, [touchpoint]
            )
    async with database.transaction(world.binding(), write=True) as session:
        done = await recalculate.recalculate(session, world.workspace_id, as_of=NOW)
    assert done is not None
    assert not done.full
    assert done.requests == 50
    assert done.subjects_refreshed == 50
    assert set(done.health.touchpoints) == set(world.touchpoint_ids)
    assert all(s.sample_size == 1 for s in done.health.touchpoints.values())
    assert all(
        s.state is model.State.INSUFFICIENT_EVIDENCE for s in done.health.touchpoints.values()
    )
    async with database.transaction(world.binding(), write=True) as session:
        assert await recalculate.recalculate(session, world.workspace_id, as_of=NOW) is None
        pending = await session.scalar(
            select(func.count())
            .select_from(HealthRequest)
            .where(HealthRequest.workspace_id == world.workspace_id)
        )
    assert pending == 0
