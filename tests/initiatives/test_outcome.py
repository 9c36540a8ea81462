"""An initiative's outcome on a real database and through the API: answers read as
item indexes, comparison touchpoints, warnings, the target metric's own trend, and
what a planned initiative could detect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from backend.authz.access import Access
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.initiatives import outcome, service
from backend.initiatives.commands import CreateInitiative
from backend.models import Feedback, Initiative, Metric, MetricValue, PainPoint
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from backend.vocabulary.initiatives import InitiativeStatus as S
from backend.vocabulary.journeys import Severity
from backend.vocabulary.metrics import MetricDirection, MetricSource
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.service_calls import access_of, writing
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, add_pain, build_world

OUTCOME = """outcome { method estimate interval { low high } degreesOfFreedom pValue
  significant controlCount warnings standardError
  treated { before after answersBefore answersAfter touchpoints }
  controls { before after answersBefore answersAfter touchpoints }
  before { score sampleSize } after { score sampleSize } }
plannedDetection { minimumDetectableEffect expectedAnswers method controlCount }"""
CREATE = f"""mutation($input: CreateInitiativeInput!) {{ createInitiative(input: $input) {{
  initiative {{ {OUTCOME} }} errors {{ code field message }} }} }}"""


async def answers(
    database: Database,
    world: World,
    touchpoint: UUID,
    values: Sequence[int | None],
    at: datetime,
    *,
    measure: MeasureKind | None = MeasureKind.CES,
    sentiment: float | None = None,
) -> None:
    """Answers at one touchpoint, in one transaction."""
    async with database.transaction(world.binding(), write=True) as session:
        for value in values:
            session.add(
                Feedback(
                    workspace_id=world.workspace_id,
                    source=FeedbackSource.SURVEY,
                    external_id=f"outcome-{uuid4()}",
                    journey_map_id=world.map_id,
                    touchpoint_id=touchpoint,
                    measure=measure,
                    measure_value=value,
                    sentiment=sentiment,
                    text="",
                    occurred_at=at,
                )
            )


async def create(database: Database, access: Access, command: CreateInitiative) -> Initiative:
    async with writing(database, access) as session:
        return await service.create_initiative(session, access, command)


async def outcome_now(database: Database, world: World, initiative: Initiative) -> outcome.Outcome:
    async with database.transaction(world.binding()) as session:
        found = await outcome.outcome_of(session, initiative)
    assert found is not None
    return found


async def seasonal_world(database: Database, tenant: Tenant, lift: int) -> World:
    """Six touchpoints on CES 2.0 at different levels, 50 answers a window each; every one
    moves up ~4 index points in the 30 days after shipping (the season), the first by
    ``lift`` answers more (of 50) one point up the scale."""
    world = await build_world(database, tenant.workspace_ids[0], stages=3)
    now = utcnow()
    for k, touchpoint in enumerate(world.touchpoint_ids):
        low = 2 + k % 4  # the touchpoint's level: answers low and low + 1
        up = 12 + (lift if k == 0 else 0)  # answers that move up a point: +4 index points
        await answers(database, world, touchpoint, [low] * 25 + [low + 1] * 25, now - timedelta(45))
        after = [low] * (25 - up) + [low + 1] * (25 + up)
        await answers(database, world, touchpoint, after, now - timedelta(15))
    return world


async def test_a_season_on_every_touchpoint_is_not_called_an_effect_through_the_api(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await seasonal_world(database, tenant_a, lift=0)
    body = await gql(
        CREATE,
        {
            "input": {
                "workspaceId": tenant_a.ws_gid(0),
                "title": "New hold music",
                "status": "SHIPPED",
                "shippedAt": (utcnow() - timedelta(days=30)).isoformat(),
                "touchpointIds": [global_id("Touchpoint", world.touchpoint_ids[0])],
            }
        },
        token=tenant_a.token,
    )
    made = body["data"]["createInitiative"]
    assert made["errors"] == []
    found: dict[str, Any] = made["initiative"]["outcome"]
    treated = found["treated"]
    assert (treated["answersBefore"], treated["answersAfter"]) == (50, 50)
    # The old outcome: +4 points, beyond 1.96 standard errors of a plain before/after.
    assert treated["after"] - treated["before"] == pytest.approx(4.0, abs=0.01)
    assert found["method"] == "DIFFERENCE_IN_DIFFERENCES"
    assert found["controlCount"] == 5
    assert found["controls"]["touchpoints"] == 5
    assert found["estimate"] == pytest.approx(0.0, abs=0.5)
    assert found["interval"]["low"] < 0 < found["interval"]["high"]
    assert found["significant"] is False
    assert found["pValue"] > 0.05
    assert found["degreesOfFreedom"] > 30
    assert found["before"]["sampleSize"] == 50
    assert made["initiative"]["plannedDetection"] is None  # shipped: the outcome speaks


async def test_a_real_lift_beyond_the_season_is_detected(
    database: Database, tenant_a: Tenant
) -> None:
    world = await seasonal_world(database, tenant_a, lift=12)  # about +8 index points more
    access = await access_of(database, tenant_a.token)
    initiative = await create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Call-back instead of hold",
            status=S.SHIPPED,
            shipped_at=utcnow() - timedelta(days=30),
            touchpoint_ids=(world.touchpoint_ids[0],),
        ),
    )
    found = await outcome_now(database, world, initiative)
    assert found.analysis.estimate == pytest.approx(100 * 12 / 50 / 6, abs=0.5)
    assert found.significant


async def test_two_csat_fours_after_two_threes_are_not_significant(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    first = world.touchpoint_ids[0]
    now = utcnow()
    await answers(database, world, first, [3, 3], now - timedelta(15), measure=MeasureKind.CSAT)
    await answers(database, world, first, [4, 4], now - timedelta(5), measure=MeasureKind.CSAT)
    access = await access_of(database, tenant_a.token)
    initiative = await create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Friendlier copy",
            status=S.SHIPPED,
            shipped_at=now - timedelta(days=10),
            touchpoint_ids=(first,),
        ),
    )
    found = await outcome_now(database, world, initiative)
    assert (found.before.score, found.after.score) == (0.0, 100.0)  # zero variance both
    assert found.significant is False
    assert found.analysis.method is outcome.OutcomeMethod.BEFORE_AFTER
    assert set(found.warnings) == {
        outcome.OutcomeWarning.NO_COMPARISON_GROUP,
        outcome.OutcomeWarning.FEW_ANSWERS,
    }


async def test_volume_and_survey_mix_shifts_are_flagged_and_sentiment_is_not_an_outcome(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    first = world.touchpoint_ids[0]
    now = utcnow()
    csat = MeasureKind.CSAT
    await answers(database, world, first, [4, 2] * 10, now - timedelta(15), measure=csat)
    await answers(database, world, first, [4, 2] * 10, now - timedelta(5), measure=csat)
    await answers(database, world, first, [9, 6] * 15, now - timedelta(5), measure=MeasureKind.NPS)
    # Comments with a sentiment and no measure: not outcome evidence.
    await answers(
        database, world, first, [None] * 10, now - timedelta(5), measure=None, sentiment=-1
    )
    access = await access_of(database, tenant_a.token)
    initiative = await create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Survey everyone",
            status=S.SHIPPED,
            shipped_at=now - timedelta(days=10),
            touchpoint_ids=(first,),
        ),
    )
    found = await outcome_now(database, world, initiative)
    assert (found.before.sample_size, found.after.sample_size) == (20, 50)
    assert outcome.OutcomeWarning.VOLUME_SHIFT in found.warnings
    assert outcome.OutcomeWarning.SURVEY_MIX_SHIFT in found.warnings


async def test_touchpoints_of_another_initiative_shipped_meanwhile_are_no_comparison(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(
        database, tenant_a.workspace_ids[0], stages=1, touchpoints_per_stage=3
    )
    treated, busy, _quiet = world.touchpoint_ids
    now = utcnow()
    for touchpoint in world.touchpoint_ids:
        await answers(database, world, touchpoint, [4, 5] * 5, now - timedelta(15))
        await answers(database, world, touchpoint, [4, 5] * 5, now - timedelta(5))
    access = await access_of(database, tenant_a.token)
    ours = await create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Ours",
            status=S.SHIPPED,
            shipped_at=now - timedelta(days=10),
            touchpoint_ids=(treated,),
        ),
    )
    alone = await outcome_now(database, world, ours)
    assert alone.analysis.controls is not None
    assert alone.analysis.controls.touchpoints == 2
    await create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Theirs",
            status=S.SHIPPED,
            shipped_at=now - timedelta(days=12),
            touchpoint_ids=(busy,),
        ),
    )
    found = await outcome_now(database, world, ours)
    assert found.analysis.controls is not None
    assert found.analysis.controls.touchpoints == 1  # only the quiet one


async def metric(database: Database, world: World, points: list[tuple[datetime, float]]) -> UUID:
    async with database.transaction(world.binding(), write=True) as session:
        row = Metric(
            workspace_id=world.workspace_id,
            name="Calls per order",
            direction=MetricDirection.LOWER_IS_BETTER,
        )
        session.add(row)
        await session.flush()
        for at, value in points:
            session.add(
                MetricValue(
                    workspace_id=world.workspace_id,
                    metric_id=row.id,
                    value=value,
                    observed_at=at,
                    source=MetricSource.MANUAL,
                    recorded_at=at,
                )
            )
        return row.id


async def test_the_target_metrics_own_trend_is_not_credited(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    now = utcnow()
    shipped = now - timedelta(days=70)
    wiggle = [0.3, -0.2, 0.1, -0.3, 0.2]
    # Falling half a call a week for 20 weeks before launch, and just as fast after.
    falling = [(shipped + timedelta(weeks=w), 40 - 0.5 * w + wiggle[w % 5]) for w in range(-20, 10)]
    flat_then_down = [
        (shipped + timedelta(weeks=w), 40 + wiggle[w % 5] - (5 if w > 0 else 0))
        for w in range(-20, 10)
    ]
    access = await access_of(database, tenant_a.token)
    results = []
    for points in (falling, flat_then_down):
        metric_id = await metric(database, world, points)
        initiative = await create(
            database,
            access,
            CreateInitiative(
                world.workspace_id,
                "Self-service returns",
                status=S.SHIPPED,
                shipped_at=shipped,
                target_metric_id=metric_id,
            ),
        )
        results.append(await outcome_now(database, world, initiative))
    trended, real = results

    assert trended.target_trend is not None
    # 45 calls on average before, 37.5 after: a before/after would credit -7.5 calls.
    assert trended.target_trend.observed == pytest.approx(37.5, abs=0.2)
    assert trended.target_trend.deviation.estimate == pytest.approx(0.0, abs=0.5)
    assert not trended.target_trend.beyond_trend
    assert outcome.OutcomeWarning.TARGET_METRIC_FOLLOWS_TREND in trended.warnings

    assert real.target_trend is not None
    assert real.target_trend.beyond_trend
    assert real.target_trend.deviation.estimate == pytest.approx(-5.0, abs=0.5)
    assert outcome.OutcomeWarning.TARGET_METRIC_FOLLOWS_TREND not in real.warnings


async def test_a_planned_initiative_states_its_minimum_detectable_effect(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=3)
    now = utcnow()
    for k, touchpoint in enumerate(world.touchpoint_ids):
        await answers(database, world, touchpoint, [2 + k % 4, 4 + k % 4] * 30, now - timedelta(20))
    await answers(database, world, world.touchpoint_ids[0], [3] * 40, now - timedelta(120))  # old
    body = await gql(
        CREATE,
        {
            "input": {
                "workspaceId": tenant_a.ws_gid(0),
                "title": "Rewrite the FAQ",
                "status": "PLANNED",
                "touchpointIds": [global_id("Touchpoint", world.touchpoint_ids[0])],
            }
        },
        token=tenant_a.token,
    )
    initiative = body["data"]["createInitiative"]["initiative"]
    assert initiative["outcome"] is None
    planned = initiative["plannedDetection"]
    assert planned["expectedAnswers"] == 60  # the last 90 days only
    assert planned["method"] == "DIFFERENCE_IN_DIFFERENCES"
    assert planned["controlCount"] == 5
    # Answers two scale points apart (33 index points, sd ~16.8): about 2.8 sd sqrt(2/60 + ...).
    assert 8 < planned["minimumDetectableEffect"] < 15


async def test_the_outcome_reads_in_a_fixed_number_of_statements(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=2)
    now = utcnow()
    for touchpoint in world.touchpoint_ids:
        await add_pain(database, world, touchpoint, Severity.HIGH)
    async with database.transaction(world.binding()) as session:
        pains = (await session.scalars(select(PainPoint.id))).all()
    access = await access_of(database, tenant_a.token)
    ours = await create(
        database,
        access,
        CreateInitiative(
            world.workspace_id,
            "Ours",
            status=S.SHIPPED,
            shipped_at=now - timedelta(days=10),
            pain_point_ids=(pains[0],),
        ),
    )
    counts = []
    for pain in pains[1:]:  # one more overlapping initiative, with a pain point, each time
        await create(
            database,
            access,
            CreateInitiative(
                world.workspace_id,
                "Theirs",
                status=S.SHIPPED,
                shipped_at=now - timedelta(days=5),
                pain_point_ids=(pain,),
            ),
        )
        sql_statements.clear()
        await outcome_now(database, world, ours)
        counts.append(len([s for s in sql_statements if s.lstrip().upper().startswith("SELECT")]))
    assert len(set(counts)) == 1
