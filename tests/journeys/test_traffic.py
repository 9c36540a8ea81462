"""A touchpoint's declared traffic: set on create and update, cleared with null, refused
when negative, and carried by revisions, diffs, restores and copies like any field."""

from __future__ import annotations

from typing import Any

from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

MAP = """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws, title: "Checkout",
  template: FIVE_STAGE}) { journeyMap { id stages { id } } } }"""
ADD = """mutation($input: AddTouchpointInput!) { addTouchpoint(input: $input) {
  touchpoint { id traffic } journeyMap { version } errors { code field } } }"""
UPDATE = """mutation($input: UpdateTouchpointInput!) { updateTouchpoint(input: $input) {
  touchpoint { id traffic } journeyMap { version } errors { code field } } }"""
READ = """query($id: ID!) { journeyMap(id: $id) { version
  stages { touchpoints { name traffic } } } }"""


async def _payload(gql: GraphQLClient, tenant: Tenant, query: str, input_: dict[str, Any]) -> Any:
    body = await gql(query, {"input": input_}, token=tenant.token)
    return next(iter(body["data"].values()))


async def _map(gql: GraphQLClient, tenant: Tenant) -> tuple[str, str]:
    created = (await gql(MAP, {"ws": tenant.ws_gid(0)}, token=tenant.token))["data"]
    journey = created["createJourneyMap"]["journeyMap"]
    return journey["id"], journey["stages"][1]["id"]


async def _traffic(gql: GraphQLClient, tenant: Tenant, map_id: str) -> list[int | None]:
    body = await gql(READ, {"id": map_id}, token=tenant.token)
    return [t["traffic"] for s in body["data"]["journeyMap"]["stages"] for t in s["touchpoints"]]


async def test_traffic_is_declared_on_create_changed_on_update_and_cleared_with_null(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id, stage_id = await _map(gql, tenant_a)
    added = await _payload(
        gql, tenant_a, ADD, {"stageId": stage_id, "name": "Pay", "traffic": 1200}
    )
    assert added["errors"] == []
    assert added["touchpoint"]["traffic"] == 1200
    plain = await _payload(gql, tenant_a, ADD, {"stageId": stage_id, "name": "Ship"})
    assert plain["touchpoint"]["traffic"] is None  # not declared
    touchpoint = added["touchpoint"]["id"]

    renamed = await _payload(gql, tenant_a, UPDATE, {"id": touchpoint, "name": "Pay now"})
    assert renamed["touchpoint"]["traffic"] == 1200  # left out: unchanged
    changed = await _payload(gql, tenant_a, UPDATE, {"id": touchpoint, "traffic": 0})
    assert changed["touchpoint"]["traffic"] == 0  # zero is a declaration, not a clearing
    cleared = await _payload(gql, tenant_a, UPDATE, {"id": touchpoint, "traffic": None})
    assert cleared["errors"] == []
    assert cleared["touchpoint"]["traffic"] is None
    assert await _traffic(gql, tenant_a, map_id) == [None, None]


async def test_negative_or_absurd_traffic_is_refused_where_it_was_sent(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id, stage_id = await _map(gql, tenant_a)
    refused = await _payload(
        gql, tenant_a, ADD, {"stageId": stage_id, "name": "Pay", "traffic": -1}
    )
    assert refused["errors"] == [{"code": "VALIDATION", "field": "input.traffic"}]
    assert refused["touchpoint"] is None
    added = await _payload(gql, tenant_a, ADD, {"stageId": stage_id, "name": "Pay", "traffic": 10})
    version = added["journeyMap"]["version"]
    for wrong in (-5, 2_000_000_000):
        body = await _payload(
            gql, tenant_a, UPDATE, {"id": added["touchpoint"]["id"], "traffic": wrong}
        )
        assert body["errors"] == [{"code": "VALIDATION", "field": "input.traffic"}]
    after = (await gql(READ, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert after["version"] == version  # nothing was written
    assert await _traffic(gql, tenant_a, map_id) == [10]


async def test_traffic_is_versioned_diffed_restored_and_copied(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id, stage_id = await _map(gql, tenant_a)
    added = await _payload(gql, tenant_a, ADD, {"stageId": stage_id, "name": "Pay", "traffic": 800})
    declared = added["journeyMap"]["version"]
    updated = await _payload(
        gql, tenant_a, UPDATE, {"id": added["touchpoint"]["id"], "traffic": 2500}
    )
    now = updated["journeyMap"]["version"]
    assert now == declared + 1  # a change of traffic is a version of the map

    diff = await gql(
        """query($id: ID!, $a: Int!, $b: Int!) { journeyMap(id: $id) {
             diff(fromVersion: $a, toVersion: $b) { path kind before after } } }""",
        {"id": map_id, "a": declared, "b": now},
        token=tenant_a.token,
    )
    [change] = diff["data"]["journeyMap"]["diff"]
    assert change["path"].endswith("/traffic")
    assert (change["kind"], change["before"], change["after"]) == ("CHANGED", 800, 2500)

    restored = await _payload(
        gql,
        tenant_a,
        """mutation($input: RestoreJourneyMapRevisionInput!) {
             restoreJourneyMapRevision(input: $input) { journeyMap { id } errors { code } } }""",
        {"journeyMapId": map_id, "version": declared},
    )
    assert restored["errors"] == []
    assert await _traffic(gql, tenant_a, map_id) == [800]

    copied = await _payload(
        gql,
        tenant_a,
        """mutation($input: DuplicateJourneyMapInput!) {
             duplicateJourneyMap(input: $input) { journeyMap { id } errors { code } } }""",
        {"id": map_id},
    )
    assert await _traffic(gql, tenant_a, copied["journeyMap"]["id"]) == [800]
