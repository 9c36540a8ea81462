"""Health history at every level: touchpoint, stage, map and workspace, in day, week and
month buckets, and nothing of another tenant's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.health import history, recalculate
from backend.health.backfill import end_of
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, add_feedback, build_world

# Four passes on days that straddle a week and a month boundary.
PASS_DAYS = [date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 6)]

HISTORY = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: HealthBucket!) {
  node(id: $id) {
    ... on Touchpoint { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } }
    ... on Stage { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } }
    ... on JourneyMap { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } }
    ... on Workspace { healthHistory(from: $from, to: $to, bucket: $bucket) { ...point } } } }
fragment point on HealthPoint { startsAt score sampleSize confidence low high }"""


async def _world_with_passes(database: Database, tenant: Tenant) -> World:
    """A map rated a little more each pass day (five answers a touchpoint, enough for a
    score from the first day), with a full pass at the end of each."""
    world = await build_world(database, tenant.workspace_ids[0])
    for n, day in enumerate(PASS_DAYS):
        for touchpoint in world.touchpoint_ids:
            for answer in range(5):
                await add_feedback(
                    database,
                    world,
                    touchpoint,
                    value=min(5, 1 + n + answer % 2),
                    occurred_at=end_of(day) - timedelta(hours=6),
                )
        async with database.transaction(world.binding(), write=True) as session:
            await recalculate.recalculate(session, world.workspace_id, full=True, as_of=end_of(day))
    return world


def _subjects(world: World) -> dict[str, str]:
    return {
        "Touchpoint": global_id("Touchpoint", world.touchpoint_ids[1]),
        "Stage": global_id("Stage", world.stage_ids[0]),
        "JourneyMap": global_id("JourneyMap", world.map_id),
        "Workspace": global_id("Workspace", world.workspace_id),
    }


async def _history(
    gql: GraphQLClient,
    tenant: Tenant,
    subject: str,
    bucket: str,
    *,
    expect_errors: bool = False,
    **range_: str,
) -> Any:
    variables = {
        "id": subject,
        "from": range_.get("from", "2026-09-01T00:00:00+00:00"),
        "to": range_.get("to", "2026-11-01T00:00:00+00:00"),
        "bucket": bucket,
    }
    return await gql(HISTORY, variables, token=tenant.token, expect_errors=expect_errors)


def _days(points: list[dict[str, Any]]) -> list[str]:
    return [p["startsAt"][:10] for p in points]


async def test_every_level_has_a_history_in_day_week_and_month_buckets(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_passes(database, tenant_a)
    for kind, subject in _subjects(world).items():
        by_day = (await _history(gql, tenant_a, subject, "DAY"))["data"]["node"]["healthHistory"]
        assert _days(by_day) == [d.isoformat() for d in PASS_DAYS], kind
        # One more rating per touchpoint a day: the sample grows with every point.
        samples = [p["sampleSize"] for p in by_day]
        assert samples == sorted(samples), kind
        assert samples[0] < samples[-1], kind
        # Every point carries its score's interval.
        assert all(p["low"] <= p["score"] <= p["high"] for p in by_day), kind
        by_week = (await _history(gql, tenant_a, subject, "WEEK"))["data"]["node"]
        # Mon 28 Sep holds the 29th, 30th and 1st; Mon 5 Oct the 6th: each week's last day.
        assert _days(by_week["healthHistory"]) == ["2026-09-28", "2026-10-05"], kind
        assert by_week["healthHistory"][0]["score"] == by_day[2]["score"], kind
        by_month = (await _history(gql, tenant_a, subject, "MONTH"))["data"]["node"]
        assert _days(by_month["healthHistory"]) == ["2026-09-01", "2026-10-01"], kind
        assert by_month["healthHistory"][0]["score"] == by_day[1]["score"], kind
        assert by_month["healthHistory"][1]["score"] == by_day[3]["score"], kind


async def test_a_range_keeps_only_the_days_inside_it(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_passes(database, tenant_a)
    stage = _subjects(world)["Stage"]
    body = await _history(
        gql,
        tenant_a,
        stage,
        "DAY",
        **{"from": "2026-09-30T00:00:00+00:00", "to": "2026-10-02T00:00:00+00:00"},
    )
    assert _days(body["data"]["node"]["healthHistory"]) == ["2026-09-30", "2026-10-01"]


async def test_history_refuses_more_than_three_years_at_once_on_every_level(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_passes(database, tenant_a)
    for subject in _subjects(world).values():
        body = await _history(
            gql,
            tenant_a,
            subject,
            "MONTH",
            expect_errors=True,
            **{"from": "2020-01-01T00:00:00+00:00"},
        )
        [error] = body["errors"]
        assert error["extensions"] == {"code": "VALIDATION", "field": "to"}


async def test_another_tenant_sees_no_history_at_any_level(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world = await _world_with_passes(database, tenant_a)
    for kind, subject in _subjects(world).items():
        body = await _history(gql, tenant_b, subject, "DAY")
        assert body["data"]["node"] is None, kind  # out of reach: not even there
    # Below the API too: a session bound to the other tenant reads no snapshots of them.
    subjects = [world.touchpoint_ids[1], world.stage_ids[0], world.map_id, world.workspace_id]
    async with database.transaction(TenantBinding(frozenset(tenant_b.workspace_ids))) as session:
        for subject_id in subjects:
            assert await _read(session, subject_id) == []
    async with database.transaction(world.binding()) as session:
        for subject_id in subjects:
            assert len(await _read(session, subject_id)) == len(PASS_DAYS)


async def _read(session: Any, subject_id: UUID) -> list[history.Point]:
    return await history.history(
        session,
        subject_id,
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
        history.Bucket.DAY,
    )
