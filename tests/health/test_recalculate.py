"""A health pass on a real database: evidence from feedback, scores at every level."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy import delete, select, update

from backend.db.engine import Database
from backend.health import explain, model, recalculate
from backend.health.repository.scores import stored_components
from backend.models import Feedback, HealthEvidence, HealthScore, HealthSubject, Touchpoint
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Severity
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_feedback, add_many, add_pain, build_world, days_ago

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _pass(db: Database, world, *, full: bool = False) -> recalculate.PassResult | None:  # type: ignore[no-untyped-def]
    async with db.transaction(world.binding(), write=True) as session:
        return await recalculate.recalculate(session, world.workspace_id, full=full, as_of=NOW)


async def test_a_full_pass_scores_every_level_from_feedback(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], emotions=False)
    first, second = world.touchpoint_ids[:2]
    await add_many(
        database,
        world,
        first,
        [(MeasureKind.CSAT, v) for v in (5, 5, 4, 4, 3)],
        occurred_at=days_ago(NOW, 1),
    )
    await add_many(
        database, world, second, [(MeasureKind.CSAT, 1)] * 5, occurred_at=days_ago(NOW, 40)
    )
    await add_pain(database, world, second, Severity.CRITICAL)
    await add_feedback(database, world, world.touchpoint_ids[2], occurred_at=days_ago(NOW, 1))

    done = await _pass(database, world, full=True)

    assert done is not None
    health = done.health
    good, bad = health.touchpoints[first], health.touchpoints[second]
    assert (good.sample_size, bad.sample_size) == (5, 5)
    assert good.score == pytest.approx(80.0)  # CSAT 80 %: four of five in the top two boxes
    assert bad.score == pytest.approx(0.0)  # the prior cannot take anything off 0
    prior = {c.name: c for c in bad.components}[model.PRIOR]
    assert prior.prior_share == pytest.approx(5 / 10)  # k / (k + n)
    unrated = health.touchpoints[world.touchpoint_ids[2]]
    assert unrated.state is model.State.INSUFFICIENT_EVIDENCE
    first_stage, second_stage = (health.stages[s] for s in world.stage_ids)
    # The first stage: T0.0 (importance 1) at 80, T0.1 a moment of truth (3) at 0.
    assert first_stage.score == pytest.approx(20.0)
    assert (first_stage.scored_parts, first_stage.parts) == (2, 2)
    assert second_stage.state is model.State.INSUFFICIENT_EVIDENCE
    assert (second_stage.scored_parts, second_stage.parts) == (0, 2)
    assert health.maps[world.map_id].score == pytest.approx(20.0)
    assert health.workspace is not None
    assert health.workspace.score == pytest.approx(20.0)
    async with database.transaction(world.binding()) as session:
        stored = {row.id: row for row in (await session.scalars(select(HealthScore))).all()}
    assert stored[first].score == pytest.approx(80.0)
    assert stored[first].low == pytest.approx(good.low)
    assert stored[world.stage_ids[1]].score is None
    assert stored[world.workspace_id].subject_type == HealthSubject.WORKSPACE


async def test_evidence_in_sql_matches_the_reference_arithmetic(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(
        database, tenant_a.workspace_ids[0], stages=1, touchpoints_per_stage=1
    )
    touchpoint = world.touchpoint_ids[0]
    samples = [
        (MeasureKind.CSAT, 2, 3.0),
        (MeasureKind.CSAT, 4, 3.0),
        (MeasureKind.NPS, 9, 10.0),
        (MeasureKind.NPS, 7, 20.0),
        (MeasureKind.NPS, 3, 70.0),
        (MeasureKind.CES, 2, 0.5),
        (MeasureKind.RATING, 5, 89.0),
        (MeasureKind.CSAT, 1, 100.0),  # the previous window
    ]
    for kind, value, age in samples:
        await add_feedback(
            database, world, touchpoint, measure=kind, value=value, occurred_at=days_ago(NOW, age)
        )
    await add_feedback(
        database,
        world,
        touchpoint,
        measure=None,
        value=None,
        sentiment=-0.5,
        occurred_at=days_ago(NOW, 5),
    )
    # A text the scorer could not read counts nowhere, not as neutral.
    await add_feedback(
        database, world, touchpoint, measure=None, value=None, occurred_at=days_ago(NOW, 5)
    )
    done = await _pass(database, world, full=True)
    assert done is not None

    score = done.health.touchpoints[touchpoint]
    found = {c.name: c for c in score.components}
    assert found["csat"].value == pytest.approx(50.0)  # one of two in the top two boxes
    assert found["csat"].headline == pytest.approx(50.0)
    assert found["nps"].value == pytest.approx(50.0)  # a promoter, a passive, a detractor
    assert found["nps"].headline == pytest.approx(0.0)
    assert found["ces"].value == pytest.approx(100 / 6)  # CES 2.0: 2 on 1..7
    assert found["rating"].value == pytest.approx(100.0)
    assert found["sentiment"].value == pytest.approx(25.0)
    assert found["sentiment"].sample_size == 1
    # Four measure kinds share 0.8 equally, sentiment 0.2; the mapped emotion (-2) is a prior.
    evidence_value = 0.2 * (50 + 50 + 100 / 6 + 100) + 0.2 * 25
    prior = found[model.PRIOR]
    assert prior.prior_share == pytest.approx(5 / (5 + 8))
    assert prior.value == pytest.approx(evidence_value - 15)
    assert score.score == pytest.approx(evidence_value - 15 * 5 / 13)
    assert score.sample_size == 8
    assert score.previous_sample_size == 1
    assert score.previous is None  # one answer is not enough for a score


async def test_nothing_pending_means_no_pass(database: Database, tenant_a: Tenant) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    assert await _pass(database, world) is None
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.request(session, world.workspace_id, recalculate.STRUCTURE_CHANGED)
        await recalculate.request(session, world.workspace_id, recalculate.STRUCTURE_CHANGED)
    done = await _pass(database, world)
    assert done is not None
    assert done.requests == 2
    assert await _pass(database, world) is None  # the burst was taken in one pass


async def test_a_later_pass_rewrites_every_score_and_drops_those_of_subjects_gone(
    database: Database, tenant_a: Tenant
) -> None:
    """On Postgres the scores are updated in place and the gone ones deleted in the same
    statement (repository.scores.PG_WRITE); the table must read as if it had been rewritten."""
    world = await build_world(database, tenant_a.workspace_ids[0])
    first, second, third, _ = world.touchpoint_ids
    await add_many(
        database, world, first, [(MeasureKind.CSAT, 5)] * 5, occurred_at=days_ago(NOW, 1)
    )
    await _pass(database, world, full=True)

    # One touchpoint is moved out of the live structure (its map's row for it goes),
    # another gains feedback, and a stage loses both its touchpoints.
    async with database.transaction(world.binding(), write=True) as session:
        await session.execute(delete(Touchpoint).where(Touchpoint.id.in_([third])))
        await session.execute(delete(Touchpoint).where(Touchpoint.stage_id == world.stage_ids[1]))
    await add_feedback(database, world, second, value=1, occurred_at=days_ago(NOW, 1))
    done = await _pass(database, world, full=True)

    assert done is not None
    async with database.transaction(world.binding()) as session:
        stored = {row.id: row for row in (await session.scalars(select(HealthScore))).all()}
    expected = {
        **done.health.touchpoints,
        **done.health.stages,
        **done.health.maps,
        world.workspace_id: done.health.workspace,
    }
    assert (
        set(stored)
        == set(expected)
        == {
            first,
            second,
            *world.stage_ids,  # the emptied stage stays, without a score
            world.map_id,
            world.workspace_id,
        }
    )
    assert stored[world.stage_ids[1]].state == "INSUFFICIENT_EVIDENCE"
    for subject, score in expected.items():
        assert score is not None
        assert stored[subject].score == pytest.approx(score.score)
        assert stored[subject].state == score.state
        assert stored[subject].sample_size == score.sample_size
        assert stored[subject].components == stored_components(score.components)
    assert stored[second].sample_size == 1
    assert stored[second].score is None


async def test_evidence_of_touchpoints_left_without_feedback_goes(
    database: Database, tenant_a: Tenant
) -> None:
    """Evidence is rewritten in place on Postgres (evidence.refresh); a touchpoint whose
    feedback left both windows, or went to another touchpoint, keeps no row, whether the
    pass names it or takes every touchpoint."""
    world = await build_world(database, tenant_a.workspace_ids[0])
    first, second, third, _ = world.touchpoint_ids
    aged = await add_feedback(database, world, first, value=5, occurred_at=days_ago(NOW, 1))
    moved = await add_feedback(database, world, second, value=2, occurred_at=days_ago(NOW, 2))
    await _pass(database, world, full=True)
    assert await _evidence_of(database, world) == {first, second}

    async with database.transaction(world.binding(), write=True) as session:
        await session.execute(
            update(Feedback).where(Feedback.id == aged).values(occurred_at=days_ago(NOW, 400))
        )
        await session.execute(
            update(Feedback).where(Feedback.id == moved).values(touchpoint_id=third)
        )
        await recalculate.request(
            session, world.workspace_id, recalculate.FEEDBACK_RECEIVED, [first, second, third]
        )
    done = await _pass(database, world)
    assert done is not None
    assert done.subjects_refreshed == 1
    assert await _evidence_of(database, world) == {third}
    assert done.health.touchpoints[third].sample_size == 1
    assert done.health.touchpoints[first].sample_size == 0

    await add_feedback(database, world, first, value=4, occurred_at=days_ago(NOW, 3))
    async with database.transaction(world.binding(), write=True) as session:
        await session.execute(delete(Feedback).where(Feedback.id == moved))
    await _pass(database, world, full=True)
    assert await _evidence_of(database, world) == {first}


async def _evidence_of(database: Database, world) -> set[UUID]:  # type: ignore[no-untyped-def]
    async with database.transaction(world.binding()) as session:
        return set((await session.scalars(select(HealthEvidence.id))).all())


async def test_health_as_of_a_past_moment_is_computed_from_feedback_alone(
    database: Database, tenant_a: Tenant
) -> None:
    """What a pass at that moment would have computed, with nothing stored read or written."""
    world = await build_world(database, tenant_a.workspace_ids[0], emotions=False)
    first, second = world.touchpoint_ids[:2]
    await add_many(
        database, world, first, [(MeasureKind.CSAT, 5)] * 6, occurred_at=days_ago(NOW, 40)
    )
    await add_many(
        database, world, second, [(MeasureKind.NPS, 3)] * 6, occurred_at=days_ago(NOW, 1)
    )
    await add_many(database, world, None, [(MeasureKind.CES, 6)] * 5, occurred_at=days_ago(NOW, 2))
    past = days_ago(NOW, 10)
    async with database.transaction(world.binding()) as session:
        then = await recalculate.health_as_of(session, world.workspace_id, past)
        assert (await session.scalars(select(HealthEvidence))).all() == []
    async with database.transaction(world.binding(), write=True) as session:
        done = await recalculate.recalculate(session, world.workspace_id, full=True, as_of=past)
    assert done is not None
    assert then == done.health
    assert then.touchpoints[first].score == pytest.approx(100.0)
    assert then.touchpoints[second].state is model.State.INSUFFICIENT_EVIDENCE  # not yet said


async def test_explaining_a_score_costs_the_same_statements_at_any_volume(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    stage = world.stage_ids[0]

    async def statements_to_explain() -> int:
        await _pass(database, world, full=True)
        sql_statements.clear()
        async with database.transaction(world.binding()) as session:
            found = await explain.explain(session, world.workspace_id, HealthSubject.STAGE, stage)
        assert found is not None
        return len(sql_statements)

    for t in world.touchpoint_ids[:2]:
        await add_many(
            database, world, t, [(MeasureKind.CSAT, 2)] * 5, occurred_at=days_ago(NOW, 1)
        )
    few = await statements_to_explain()
    for t in world.touchpoint_ids[:2]:
        await add_many(
            database, world, t, [(MeasureKind.NPS, 4)] * 300, occurred_at=days_ago(NOW, 1)
        )
    assert await statements_to_explain() == few
