"""Metrics: one link each, values over time (a resent moment replaces), latest, on target."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import MetricValue
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import build_world

CREATE = """mutation($input: CreateMetricInput!) { createMetric(input: $input) {
  metric { id name unit direction target touchpoint { name } stage { name } journeyMap { title } }
  errors { code field } } }"""
RECORD = """mutation($input: RecordMetricValuesInput!) { recordMetricValues(input: $input) {
  recorded metric { latest { value observedAt source } onTarget } errors { code field } } }"""
VALUES = """query($ws: ID!) { workspace(id: $ws) { metrics(first: 10) { totalCount edges { node {
  name latest { value } onTarget
  values(first: 10) { totalCount edges { node { value observedAt source } } } } } } } }"""
DELETE = (
    """mutation($id: ID!) { deleteMetric(input: {id: $id}) { deletedMetricId errors { code } } }"""
)


async def _create(gql: GraphQLClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await gql(
        CREATE,
        {"input": {"workspaceId": tenant.ws_gid(0), "name": "NPS", **fields}},
        token=tenant.token,
    )
    return dict(body["data"]["createMetric"])


async def test_a_metric_measures_exactly_one_thing(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    touchpoint = global_id("Touchpoint", world.touchpoint_ids[0])
    made = await _create(gql, tenant_a, direction="HIGHER_IS_BETTER", touchpointId=touchpoint)
    assert made["errors"] == []
    assert made["metric"]["touchpoint"] == {"name": "T0.0"}
    on_map = await _create(
        gql,
        tenant_a,
        direction="LOWER_IS_BETTER",
        journeyMapId=global_id("JourneyMap", world.map_id),
    )
    assert on_map["metric"]["journeyMap"] == {"title": "Journey"}
    none = await _create(gql, tenant_a, direction="HIGHER_IS_BETTER")
    assert none["errors"] == [{"code": "VALIDATION", "field": "input.touchpointId"}]
    both = await _create(
        gql,
        tenant_a,
        direction="HIGHER_IS_BETTER",
        touchpointId=touchpoint,
        stageId=global_id("Stage", world.stage_ids[0]),
    )
    assert both["errors"] == [{"code": "VALIDATION", "field": "input.touchpointId"}]


async def test_values_over_time_latest_and_target(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    made = await _create(
        gql,
        tenant_a,
        direction="HIGHER_IS_BETTER",
        target=40,
        journeyMapId=global_id("JourneyMap", world.map_id),
    )
    metric = made["metric"]["id"]
    values = [
        {"value": 31, "observedAt": "2026-09-01T00:00:00+00:00"},
        {"value": 35, "observedAt": "2026-10-01T00:00:00+00:00"},
    ]
    first = await gql(
        RECORD, {"input": {"metricId": metric, "values": values}}, token=tenant_a.token
    )
    payload = first["data"]["recordMetricValues"]
    assert payload["recorded"] == 2
    assert payload["metric"]["latest"]["value"] == 35
    assert payload["metric"]["onTarget"] is False
    # Sent again with a correction and a new month: the moment is replaced, not doubled.
    again = [
        {"value": 36, "observedAt": "2026-10-01T00:00:00+00:00"},
        {"value": 42, "observedAt": "2026-11-01T00:00:00+00:00"},
    ]
    second = await gql(
        RECORD,
        {"input": {"metricId": metric, "values": again, "source": "IMPORT"}},
        token=tenant_a.token,
    )
    assert second["data"]["recordMetricValues"]["metric"]["onTarget"] is True
    body = await gql(VALUES, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    [node] = [e["node"] for e in body["data"]["workspace"]["metrics"]["edges"]]
    series = [(v["node"]["value"], v["node"]["source"]) for v in node["values"]["edges"]]
    assert series == [(31, "MANUAL"), (36, "IMPORT"), (42, "IMPORT")]
    assert node["latest"] == {"value": 42}

    bad = await gql(
        RECORD,
        {
            "input": {
                "metricId": metric,
                "values": [{"value": 1e300, "observedAt": "2026-12-01T00:00:00+00:00"}],
            }
        },
        token=tenant_a.token,
    )
    assert bad["data"]["recordMetricValues"]["errors"] == [
        {"code": "VALIDATION", "field": "input.values[0].value"}
    ]

    deleted = await gql(DELETE, {"id": metric}, token=tenant_a.token)
    assert deleted["data"]["deleteMetric"]["errors"] == []
    async with inspector_engine.connect() as conn:
        left = await conn.scalar(select(func.count()).select_from(MetricValue))
    assert left == 0
