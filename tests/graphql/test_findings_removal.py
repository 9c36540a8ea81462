"""Deleting a pain point or an opportunity: a new version of its map like any change in
it (a revision, an audit event, a journey_map.changed event, expectedVersion), which the
revisions can undo. Who may, and every refusal, are in test_journey_matrix's rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_schema.relay import decode_global_id
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.service_calls import outbox_events
from tests.fixtures.tenants import Tenant
from tests.graphql.test_nodes import _map_with_findings

DELETE_PAIN = """mutation($input: DeletePainPointInput!) { deletePainPoint(input: $input) {
  deletedPainPointId journeyMap { version } errors { code message field } } }"""
DELETE_IDEA = """mutation($input: DeleteOpportunityInput!) { deleteOpportunity(input: $input) {
  deletedOpportunityId journeyMap { version } errors { code message field } } }"""
RESTORE = """mutation($input: RestoreJourneyMapRevisionInput!) {
  restoreJourneyMapRevision(input: $input) { errors { code } } }"""
READ = """query($id: ID!) { journeyMap(id: $id) { version
  stages { touchpoints { painPoints { id title } opportunities { id title painPointId } } }
  revisions(first: 1) { edges { node { version action } } } } }"""
TRAIL = """query($ws: ID!) { workspace(id: $ws) { auditEvents(first: 1) { edges { node {
  action subjectId changes } } } } }"""


async def _read(gql: GraphQLClient, tenant: Tenant, map_id: str) -> dict[str, Any]:
    journey = (await gql(READ, {"id": map_id}, token=tenant.token))["data"]["journeyMap"]
    findings: dict[str, list[Any]] = {"painPoints": [], "opportunities": []}
    for stage in journey["stages"]:
        for touchpoint in stage["touchpoints"]:
            for kind, found in findings.items():
                found.extend(touchpoint[kind])
    newest = journey["revisions"]["edges"][0]["node"]
    return {"version": journey["version"], "revision": newest, **findings}


async def _last_event(gql: GraphQLClient, tenant: Tenant) -> dict[str, Any]:
    body = await gql(TRAIL, {"ws": tenant.ws_gid(0)}, token=tenant.token)
    return dict(body["data"]["workspace"]["auditEvents"]["edges"][0]["node"])


async def test_a_deleted_pain_point_is_a_new_version_and_comes_back_with_its_revision(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    ids = await _map_with_findings(gql, tenant_a)  # versions 1 (created) to 4
    before = await _read(gql, tenant_a, ids["map"])
    assert before["version"] == 4

    stale = await gql(
        DELETE_PAIN, {"input": {"id": ids["pain"], "expectedVersion": 3}}, token=tenant_a.token
    )
    assert [e["code"] for e in stale["data"]["deletePainPoint"]["errors"]] == ["CONFLICT"]
    assert await _read(gql, tenant_a, ids["map"]) == before

    body = await gql(
        DELETE_PAIN, {"input": {"id": ids["pain"], "expectedVersion": 4}}, token=tenant_a.token
    )
    assert body["data"]["deletePainPoint"] == {
        "deletedPainPointId": ids["pain"],
        "journeyMap": {"version": 5},
        "errors": [],
    }
    after = await _read(gql, tenant_a, ids["map"])
    assert after["revision"] == {"version": 5, "action": "PAIN_POINT_REMOVE"}
    assert after["painPoints"] == []
    # The opportunity it opened stays, answering none.
    assert after["opportunities"] == [{"id": ids["idea"], "title": "PayPal", "painPointId": None}]
    event = await _last_event(gql, tenant_a)
    assert (event["action"], event["subjectId"]) == ("PAIN_POINT_REMOVE", ids["pain"])
    assert event["changes"]["title"] == {"before": "Declined", "after": None}
    assert event["changes"]["version"] == 5
    assert event["changes"]["unlinked_opportunity_ids"] == {
        "before": [str(_uuid(ids["idea"]))],
        "after": None,
    }
    changed = await outbox_events(
        inspector_engine, tenant_a.workspace_ids[0], "journey_map.changed"
    )
    assert (changed[-1]["action"], changed[-1]["version"]) == ("pain_point.remove", 5)

    # Gone: a second delete finds nothing.
    again = await gql(DELETE_PAIN, {"input": {"id": ids["pain"]}}, token=tenant_a.token)
    assert again["data"]["deletePainPoint"]["errors"] == [
        {"code": "NOT_FOUND", "message": "Pain point not found.", "field": "input.id"}
    ]

    # The version before brings it back, under the same id, answered again.
    restored = await gql(
        RESTORE, {"input": {"journeyMapId": ids["map"], "version": 4}}, token=tenant_a.token
    )
    assert restored["data"]["restoreJourneyMapRevision"]["errors"] == []
    back = await _read(gql, tenant_a, ids["map"])
    assert back["painPoints"] == [{"id": ids["pain"], "title": "Declined"}]
    assert back["opportunities"] == before["opportunities"]


async def test_a_deleted_opportunity_is_a_new_version_and_comes_back_with_its_revision(
    gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    ids = await _map_with_findings(gql, tenant_a)
    before = await _read(gql, tenant_a, ids["map"])
    body = await gql(DELETE_IDEA, {"input": {"id": ids["idea"]}}, token=tenant_a.token)
    assert body["data"]["deleteOpportunity"] == {
        "deletedOpportunityId": ids["idea"],
        "journeyMap": {"version": 5},
        "errors": [],
    }
    after = await _read(gql, tenant_a, ids["map"])
    assert after["revision"] == {"version": 5, "action": "OPPORTUNITY_REMOVE"}
    assert (after["opportunities"], after["painPoints"]) == ([], before["painPoints"])
    event = await _last_event(gql, tenant_a)
    assert (event["action"], event["subjectId"]) == ("OPPORTUNITY_REMOVE", ids["idea"])
    assert event["changes"]["pain_point_id"] == {"before": str(_uuid(ids["pain"])), "after": None}
    changed = await outbox_events(
        inspector_engine, tenant_a.workspace_ids[0], "journey_map.changed"
    )
    assert (changed[-1]["action"], changed[-1]["version"]) == ("opportunity.remove", 5)

    await gql(RESTORE, {"input": {"journeyMapId": ids["map"], "version": 4}}, token=tenant_a.token)
    assert (await _read(gql, tenant_a, ids["map"]))["opportunities"] == before["opportunities"]


def _uuid(id_: str) -> Any:
    decoded = decode_global_id(id_)
    assert decoded is not None
    return decoded[1]
