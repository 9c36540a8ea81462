"""Alerts when a score crosses the workspace's threshold; maps flagged stale."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import JourneyMap, OutboxEvent
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, add_feedback, build_world

RECALCULATE = """mutation($ws: ID!) { recalculateHealth(input: {workspaceId: $ws}) {
  health { score } errors { code } } }"""
SETTINGS = """mutation($input: UpdateHealthSettingsInput!) { updateHealthSettings(input: $input) {
  settings { alertBelow staleAfterDays sharpDropPoints } errors { code field message } } }"""
ALERTS = """query($ws: ID!) { workspace(id: $ws) {
  healthSettings { alertBelow staleAfterDays sharpDropPoints }
  healthAlerts(first: 10) { totalCount edges { node {
    kind subjectKind subjectId threshold scoreBefore scoreAfter } } } } }"""
STALENESS = """query($id: ID!) { journeyMap(id: $id) { version
  staleness { stale reasons lastReviewedAt reviewDueAt } } }"""
REVIEW = """mutation($id: ID!) { markJourneyMapReviewed(input: {id: $id, note: "Walked it"}) {
  staleness { stale reasons lastReviewedAt } errors { code } } }"""


async def _rate_all(database: Database, world: World, value: int, days_ago: float) -> None:
    for touchpoint in world.touchpoint_ids:
        for _ in range(5):  # enough for a score
            await add_feedback(
                database,
                world,
                touchpoint,
                value=value,
                occurred_at=utcnow() - timedelta(days=days_ago),
            )


async def test_crossing_the_threshold_records_an_alert_and_an_event(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    ws = tenant_a.ws_gid(0)
    await _rate_all(database, world, 5, 2)
    await gql(RECALCULATE, {"ws": ws}, token=tenant_a.token)
    quiet = (await gql(ALERTS, {"ws": ws}, token=tenant_a.token))["data"]["workspace"]
    assert quiet["healthSettings"] == {
        "alertBelow": 50.0,
        "staleAfterDays": 90,
        "sharpDropPoints": 10.0,
    }
    assert quiet["healthAlerts"]["totalCount"] == 0  # healthy: nothing to say

    await _rate_all(database, world, 1, 1)
    await _rate_all(database, world, 1, 1)
    await _rate_all(database, world, 1, 1)
    score = (await gql(RECALCULATE, {"ws": ws}, token=tenant_a.token))["data"]["recalculateHealth"][
        "health"
    ]["score"]
    assert score < 50
    found = (await gql(ALERTS, {"ws": ws}, token=tenant_a.token))["data"]["workspace"]
    kinds = {(a["node"]["subjectKind"], a["node"]["kind"]) for a in found["healthAlerts"]["edges"]}
    assert kinds == {
        ("TOUCHPOINT", "FELL_BELOW"),
        ("JOURNEY_MAP", "FELL_BELOW"),
        ("WORKSPACE", "FELL_BELOW"),
    }
    assert found["healthAlerts"]["totalCount"] == 6  # four touchpoints, the map, the workspace
    map_alert = next(
        a["node"]
        for a in found["healthAlerts"]["edges"]
        if a["node"]["subjectKind"] == "JOURNEY_MAP"
    )
    assert map_alert["subjectId"] == global_id("JourneyMap", world.map_id)
    assert map_alert["scoreBefore"] >= 50 > map_alert["scoreAfter"]
    async with inspector_engine.connect() as conn:
        events = (
            await conn.execute(
                select(OutboxEvent.event_type).where(OutboxEvent.event_type == "health.alert")
            )
        ).all()
    assert len(events) == 6

    # Recalculating again without a change crosses nothing: no new alert.
    await gql(RECALCULATE, {"ws": ws}, token=tenant_a.token)
    again = (await gql(ALERTS, {"ws": ws}, token=tenant_a.token))["data"]["workspace"]
    assert again["healthAlerts"]["totalCount"] == 6

    # Customers come round: the score climbs back over the threshold.
    for _ in range(8):
        await _rate_all(database, world, 5, 0.5)
    back = (await gql(RECALCULATE, {"ws": ws}, token=tenant_a.token))["data"]["recalculateHealth"][
        "health"
    ]["score"]
    assert back >= 50
    recovered = (await gql(ALERTS, {"ws": ws}, token=tenant_a.token))["data"]["workspace"]
    assert recovered["healthAlerts"]["totalCount"] == 12
    newest = {a["node"]["kind"] for a in recovered["healthAlerts"]["edges"][:2]}
    assert newest == {"RECOVERED"}


async def test_settings_are_validated_and_alerts_can_be_turned_off(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    ws = tenant_a.ws_gid(0)
    bad = await gql(
        SETTINGS, {"input": {"workspaceId": ws, "alertBelow": 101}}, token=tenant_a.token
    )
    assert bad["data"]["updateHealthSettings"]["errors"][0]["field"] == "input.alertBelow"
    bad = await gql(
        SETTINGS, {"input": {"workspaceId": ws, "staleAfterDays": 0}}, token=tenant_a.token
    )
    assert bad["data"]["updateHealthSettings"]["errors"][0]["field"] == "input.staleAfterDays"
    off = await gql(
        SETTINGS,
        {"input": {"workspaceId": ws, "alertBelow": None, "sharpDropPoints": 5}},
        token=tenant_a.token,
    )
    assert off["data"]["updateHealthSettings"]["settings"] == {
        "alertBelow": None,
        "staleAfterDays": 90,
        "sharpDropPoints": 5.0,
    }


async def test_a_map_not_reviewed_for_the_set_time_is_stale_until_reviewed(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    map_id = global_id("JourneyMap", world.map_id)
    fresh = (await gql(STALENESS, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert fresh["staleness"]["stale"] is False
    async with database.transaction(world.binding(), write=True) as session:
        await session.execute(
            update(JourneyMap)
            .where(JourneyMap.id == world.map_id)
            .values(created_at=utcnow() - timedelta(days=120))
        )
    old = (await gql(STALENESS, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert old["staleness"]["reasons"] == ["NOT_REVIEWED"]
    # The time is the workspace's to set: at 200 days, 120 is not stale yet.
    ws = tenant_a.ws_gid(0)
    await gql(SETTINGS, {"input": {"workspaceId": ws, "staleAfterDays": 200}}, token=tenant_a.token)
    patient = (await gql(STALENESS, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert patient["staleness"]["stale"] is False
    await gql(SETTINGS, {"input": {"workspaceId": ws, "staleAfterDays": 90}}, token=tenant_a.token)

    reviewed = await gql(REVIEW, {"id": map_id}, token=tenant_a.token)
    payload = reviewed["data"]["markJourneyMapReviewed"]
    assert payload["errors"] == []
    assert payload["staleness"]["stale"] is False
    after = (await gql(STALENESS, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert after["staleness"]["stale"] is False
    assert after["staleness"]["lastReviewedAt"] is not None
    assert after["version"] == old["version"]  # a review changes nothing on the map


async def test_a_map_whose_health_fell_sharply_is_stale(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    map_id = global_id("JourneyMap", world.map_id)
    await _rate_all(database, world, 5, 120)  # the previous window: delighted
    await _rate_all(database, world, 1, 5)  # this one: not at all
    await gql(RECALCULATE, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    found = (await gql(STALENESS, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert found["staleness"]["reasons"] == ["HEALTH_FELL"]
