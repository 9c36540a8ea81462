"""Incremental recalculation equals a full one (SPEC §5), on the real database.

Random sequences of changes (feedback on random touchpoints, pain points, an emotion),
each followed by the request its outbox handler would write and an incremental pass;
then every stored score is compared with what a full pass writes at the same moment.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from backend.db.engine import Database
from backend.feedback.vocabulary import MEASURE_RANGES, MeasureKind
from backend.health import recalculate
from backend.journeys.vocabulary import Severity
from backend.models import HealthScore, Touchpoint
from tests.fixtures.tenants import seed_tenant
from tests.health.worlds import World, add_feedback, add_pain, build_world

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_worlds = count()

feedback_change = st.tuples(
    st.just("feedback"),
    st.integers(0, 5),  # which touchpoint
    st.sampled_from(list(MeasureKind)),
    st.floats(0, 1),  # where in the measure's range
    st.floats(0, 179),  # age in days
)
pain_change = st.tuples(st.just("pain"), st.integers(0, 5), st.sampled_from(list(Severity)))
emotion_change = st.tuples(st.just("emotion"), st.integers(0, 5), st.integers(-2, 2))
changes = st.lists(st.one_of(feedback_change, pain_change, emotion_change), min_size=1, max_size=8)


async def _apply(database: Database, world: World, change: tuple[Any, ...]) -> None:
    kind, index = change[0], change[1]
    touchpoint = world.touchpoint_ids[index % len(world.touchpoint_ids)]
    if kind == "feedback":
        _, _, measure, where, age = change
        low, high = MEASURE_RANGES[measure]
        await add_feedback(
            database,
            world,
            touchpoint,
            measure=measure,
            value=low + round(where * (high - low)),
            occurred_at=NOW - timedelta(days=age),
        )
        reason, touched = recalculate.FEEDBACK_RECEIVED, [touchpoint]
    elif kind == "pain":
        await add_pain(database, world, touchpoint, change[2])
        reason, touched = recalculate.STRUCTURE_CHANGED, []
    else:
        async with database.transaction(world.binding(), write=True) as session:
            await session.execute(
                update(Touchpoint).where(Touchpoint.id == touchpoint).values(emotion=change[2])
            )
        reason, touched = recalculate.STRUCTURE_CHANGED, []
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.request(session, world.workspace_id, reason, touched)
        done = await recalculate.recalculate(session, world.workspace_id, as_of=NOW)
    assert done is not None


async def _scores(database: Database, world: World) -> dict[Any, tuple[Any, ...]]:
    async with database.transaction(world.binding()) as session:
        rows = (
            await session.scalars(
                select(HealthScore).where(HealthScore.workspace_id == world.workspace_id)
            )
        ).all()
    return {
        row.id: (
            row.subject_type,
            row.score,
            row.previous_score,
            row.sample_size,
            row.previous_sample_size,
            row.confidence,
            [(c["name"], c["value"], c["weight"], c["sample_size"]) for c in row.components],
        )
        for row in rows
    }


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=changes)
async def test_incremental_passes_equal_a_full_one(
    database: Database, steps: list[tuple[Any, ...]]
) -> None:
    # A workspace of its own for every example: the fixture empties tables only at the end.
    tenant = await seed_tenant(database, f"prop{next(_worlds)}", workspaces=1)
    world = await build_world(database, tenant.workspace_ids[0], stages=2, touchpoints_per_stage=3)
    for step in steps:
        await _apply(database, world, step)
    incremental = await _scores(database, world)
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.recalculate(session, world.workspace_id, full=True, as_of=NOW)
    full = await _scores(database, world)
    assert incremental.keys() == full.keys()
    for subject, row in full.items():
        assert _close(incremental[subject], row), (subject, incremental[subject], row)


async def test_a_burst_of_requests_is_taken_in_one_pass(
    database: Database,
) -> None:
    tenant = await seed_tenant(database, "burst", workspaces=1)
    world = await build_world(database, tenant.workspace_ids[0], stages=5, touchpoints_per_stage=10)
    for touchpoint in world.touchpoint_ids:
        await add_feedback(database, world, touchpoint, occurred_at=NOW - timedelta(days=1))
        async with database.transaction(world.binding(), write=True) as session:
            await recalculate.request(
                session, world.workspace_id, recalculate.FEEDBACK_RECEIVED, [touchpoint]
            )
    async with database.transaction(world.binding(), write=True) as session:
        done = await recalculate.recalculate(session, world.workspace_id, as_of=NOW)
    assert done is not None
    assert done.requests == 50
    assert done.touchpoints_refreshed == 50
    assert all(s.sample_size == 1 for s in done.health.touchpoints.values())
    async with database.transaction(world.binding(), write=True) as session:
        assert await recalculate.recalculate(session, world.workspace_id, as_of=NOW) is None
