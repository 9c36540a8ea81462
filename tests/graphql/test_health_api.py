"""Health over GraphQL: on every level, explained, with history, recalculated by admins."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import add_feedback, add_pain, build_world

RECALCULATE = """mutation($input: RecalculateHealthInput!) {
  recalculateHealth(input: $input) { touchpoints health { score sampleSize }
    errors { code field } } }"""

MAP = """query($id: ID!) { journeyMap(id: $id) {
  health { state score low high sampleSize confidence trend scoredParts parts
    components { name value weight }
    explanation { summary drivers { kind name state score share gap lift }
      concerns { metric unfavourable answers examples { measureValue } }
      feedback { points } } }
  stages { health { state score sampleSize }
    touchpoints { name health { state score sampleSize
      components { name value priorShare headline }
      explanation { summary drivers { name } } } } } } }"""

PORTFOLIO = """query($slug: String!) { organization(slug: $slug) {
  health { score sampleSize explanation { summary } }
  workspaces(first: 5) { edges { node { health { score } } } } } }"""

HISTORY = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: HealthBucket!) {
  journeyMap(id: $id) { healthHistory(from: $from, to: $to, bucket: $bucket) {
    startsAt score sampleSize } } }"""


async def _world_with_feedback(database: Database, tenant: Tenant):  # type: ignore[no-untyped-def]
    """T0.0 (emotion -2) with CSAT 100 %; T0.1, a moment of truth (emotion -1, an open
    HIGH pain point), with CSAT 20 %; the second stage without feedback."""
    world = await build_world(database, tenant.workspace_ids[0])
    happy, unhappy = world.touchpoint_ids[0], world.touchpoint_ids[1]
    now = utcnow()
    for value in (5, 5, 5, 4, 4):
        await add_feedback(database, world, happy, value=value, occurred_at=now - timedelta(days=2))
    for value in (1, 2, 5, 1, 2):
        await add_feedback(
            database, world, unhappy, value=value, occurred_at=now - timedelta(days=3)
        )
    await add_pain(database, world, unhappy, Severity.HIGH)
    return world


async def test_scores_on_every_level_after_an_admin_recalculates(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_feedback(database, tenant_a)
    map_id = global_id("JourneyMap", world.map_id)
    before = await gql(MAP, {"id": map_id}, token=tenant_a.token)
    assert before["data"]["journeyMap"]["health"] is None  # nothing calculated yet

    done = await gql(
        RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=tenant_a.token
    )
    payload = done["data"]["recalculateHealth"]
    assert payload["errors"] == []
    assert payload["touchpoints"] == 4
    assert payload["health"]["sampleSize"] == 10

    found = (await gql(MAP, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    health = found["health"]
    touchpoints = [t for s in found["stages"] for t in s["touchpoints"]]
    happy, unhappy = touchpoints[0]["health"], touchpoints[1]["health"]
    # Happy: CSAT 100 less its emotion's cost (15 points at weight 5 / (5 + 5)).
    assert happy["score"] == pytest.approx(92.5)
    # Unhappy: CSAT 20; the pain point and emotion (22.5 points) pull it to 0 at weight 1/2.
    assert unhappy["score"] == pytest.approx(10.0)
    components = {c["name"]: c for c in unhappy["components"]}
    assert components["csat"]["headline"] == pytest.approx(20.0)
    assert components["prior"]["priorShare"] == pytest.approx(0.5)
    assert "T0.1 scores 10.0" in unhappy["explanation"]["summary"]
    assert "CSAT 20 % (5 answers)" in unhappy["explanation"]["summary"]
    assert [t["health"]["state"] for t in touchpoints[2:]] == ["INSUFFICIENT_EVIDENCE"] * 2
    assert [t["health"]["score"] for t in touchpoints[2:]] == [None, None]
    # The map: the first stage's importance-weighted mean (1 x 92.5 + 3 x 10) / 4; the
    # second stage has no score and is left out, but counted in the coverage.
    assert health["state"] == "SCORED"
    assert health["score"] == pytest.approx(30.625)
    assert health["low"] < health["score"] < health["high"]
    assert health["confidence"] == pytest.approx(1 - (health["high"] - health["low"]) / 100)
    assert (health["scoredParts"], health["parts"]) == (1, 2)
    assert health["sampleSize"] == 10
    assert sum(c["weight"] * c["value"] for c in health["components"]) == pytest.approx(
        health["score"]
    )
    assert found["stages"][1]["health"]["state"] == "INSUFFICIENT_EVIDENCE"
    explanation = health["explanation"]
    drivers = explanation["drivers"]
    assert [(d["kind"], d["name"], d["state"]) for d in drivers] == [
        ("STAGE", "S0", "SCORED"),
        ("STAGE", "S1", "INSUFFICIENT_EVIDENCE"),
    ]
    assert drivers[0]["share"] == 1
    assert drivers[0]["gap"] == pytest.approx(75 - 30.625)
    assert drivers[0]["lift"] == pytest.approx(75 - 30.625)
    [csat] = explanation["concerns"]
    assert (csat["metric"], csat["unfavourable"], csat["answers"]) == ("CSAT", 4, 10)
    assert len(csat["examples"]) == 3
    assert all(e["measureValue"] <= 3 for e in csat["examples"])  # unfavourable ones
    assert explanation["feedback"] == []
    assert "S0" in explanation["summary"]


async def test_the_portfolio_is_the_mean_of_the_workspaces(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    await _world_with_feedback(database, tenant_a)
    await gql(RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=tenant_a.token)
    org = (await gql(PORTFOLIO, {"slug": tenant_a.slug}, token=tenant_a.token))["data"][
        "organization"
    ]
    scored = [
        e["node"]["health"]["score"] for e in org["workspaces"]["edges"] if e["node"]["health"]
    ]
    assert len(scored) == 1  # the second workspace has no map yet
    assert org["health"]["score"] == scored[0]
    assert org["health"]["sampleSize"] == 10


async def test_history_has_todays_snapshot_in_each_bucket(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_feedback(database, tenant_a)
    await gql(RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=tenant_a.token)
    now = utcnow()
    for bucket in ("DAY", "WEEK", "MONTH"):
        body = await gql(
            HISTORY,
            {
                "id": global_id("JourneyMap", world.map_id),
                "from": (now - timedelta(days=40)).isoformat(),
                "to": (now + timedelta(days=1)).isoformat(),
                "bucket": bucket,
            },
            token=tenant_a.token,
        )
        [point] = body["data"]["journeyMap"]["healthHistory"]
        assert point["sampleSize"] == 10


async def test_history_refuses_a_backwards_range(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_feedback(database, tenant_a)
    now = utcnow()
    body = await gql(
        HISTORY,
        {
            "id": global_id("JourneyMap", world.map_id),
            "from": now.isoformat(),
            "to": (now - timedelta(days=1)).isoformat(),
            "bucket": "DAY",
        },
        token=tenant_a.token,
        expect_errors=True,
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["extensions"]["field"] == "to"


async def test_only_admins_recalculate(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, editor = await add_guest(
        database, tenant_a.workspace_ids[0], "ed@alpha.example", WorkspaceRole.EDITOR
    )
    body = await gql(RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=editor)
    assert body["data"]["recalculateHealth"]["errors"] == [
        {"code": "FORBIDDEN", "field": "input.workspaceId"}
    ]


async def test_a_better_rating_raises_the_touchpoint_and_the_map(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await _world_with_feedback(database, tenant_a)
    map_id = global_id("JourneyMap", world.map_id)
    await gql(RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=tenant_a.token)
    before = (await gql(MAP, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    await add_feedback(
        database,
        world,
        world.touchpoint_ids[1],
        measure=MeasureKind.NPS,
        value=10,
        occurred_at=utcnow(),
    )
    await gql(RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=tenant_a.token)
    after = (await gql(MAP, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert after["health"]["score"] > before["health"]["score"]
    moved = after["stages"][0]["touchpoints"][1]["health"]
    assert moved["score"] > before["stages"][0]["touchpoints"][1]["health"]["score"]
