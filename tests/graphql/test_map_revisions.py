"""History of a map: diff two versions, restore one, duplicate the map."""

from __future__ import annotations

from typing import Any

from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

MAP = """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws, title: "Checkout",
  template: FIVE_STAGE}) { journeyMap { id stages { id name } } } }"""
READ = """query($id: ID!) { journeyMap(id: $id) { title version scenario stages { id name
  touchpoints { id name painPoints { title } opportunities { title painPointId } } } } }"""


async def _call(gql: GraphQLClient, tenant: Tenant, query: str, input_: dict[str, Any]) -> Any:
    body = await gql(query, {"input": input_}, token=tenant.token)
    payload = next(iter(body["data"].values()))
    assert payload.get("errors") in ([], None), payload
    return payload


async def _built(gql: GraphQLClient, tenant: Tenant) -> tuple[str, list[dict[str, Any]]]:
    created = (await gql(MAP, {"ws": tenant.ws_gid(0)}, token=tenant.token))["data"]
    journey = created["createJourneyMap"]["journeyMap"]
    touch = await _call(
        gql,
        tenant,
        """mutation($input: AddTouchpointInput!) { addTouchpoint(input: $input) {
             touchpoint { id } errors { code } } }""",
        {"stageId": journey["stages"][2]["id"], "name": "Pay"},
    )
    pain = await _call(
        gql,
        tenant,
        """mutation($input: AddPainPointInput!) { addPainPoint(input: $input) {
             painPoint { id } errors { code } } }""",
        {"touchpointId": touch["touchpoint"]["id"], "title": "Declined", "severity": "HIGH"},
    )
    await _call(
        gql,
        tenant,
        """mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) {
             opportunity { id } errors { code } } }""",
        {
            "touchpointId": touch["touchpoint"]["id"],
            "title": "PayPal",
            "painPointId": pain["painPoint"]["id"],
        },
    )
    return str(journey["id"]), journey["stages"]


async def test_diff_names_every_change_between_two_versions(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id, stages = await _built(gql, tenant_a)  # versions 1..4
    await _call(
        gql,
        tenant_a,
        """mutation($input: UpdateJourneyMapInput!) {
             updateJourneyMap(input: $input) { errors { code } } }""",
        {"id": map_id, "title": "Checkout v2"},
    )
    await _call(
        gql,
        tenant_a,
        "mutation($input: RemoveInput!) { removeStage(input: $input) { errors { code } } }",
        {"id": stages[4]["id"]},
    )
    body = await gql(
        """query($id: ID!) { journeyMap(id: $id) { diff(fromVersion: 1, toVersion: 6) {
             path kind before after } } }""",
        {"id": map_id},
        token=tenant_a.token,
    )
    changes = {(c["path"], c["kind"]): c for c in body["data"]["journeyMap"]["diff"]}
    assert changes[("title", "CHANGED")]["after"] == "Checkout v2"
    removed = [c for (path, kind), c in changes.items() if kind == "REMOVED"]
    assert [c["before"] for c in removed] == ["Advocacy"]
    added = [c for (path, kind), c in changes.items() if kind == "ADDED"]
    assert [c["after"] for c in added] == ["Pay"]


async def test_restore_brings_back_a_version_as_a_new_one(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id, stages = await _built(gql, tenant_a)
    before = (await gql(READ, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    await _call(
        gql,
        tenant_a,
        "mutation($input: RemoveInput!) { removeStage(input: $input) { errors { code } } }",
        {"id": stages[2]["id"]},
    )
    restored = await _call(
        gql,
        tenant_a,
        """mutation($input: RestoreJourneyMapRevisionInput!) {
             restoreJourneyMapRevision(input: $input) {
               journeyMap { version } errors { code } } }""",
        {"journeyMapId": map_id, "version": 4, "expectedVersion": 5},
    )
    assert restored["journeyMap"]["version"] == 6
    after = (await gql(READ, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert {**after, "version": 4} == before
    history = await gql(
        """query($id: ID!) { journeyMap(id: $id) {
             revisions(first: 1) { edges { node { version action restoredVersion } } } } }""",
        {"id": map_id},
        token=tenant_a.token,
    )
    newest = history["data"]["journeyMap"]["revisions"]["edges"][0]["node"]
    assert newest == {"version": 6, "action": "JOURNEY_MAP_RESTORE", "restoredVersion": 4}


async def test_restore_of_an_unknown_version_is_not_found(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    map_id, _ = await _built(gql, tenant_a)
    body = await gql(
        """mutation($input: RestoreJourneyMapRevisionInput!) {
             restoreJourneyMapRevision(input: $input) { errors { code field } } }""",
        {"input": {"journeyMapId": map_id, "version": 99}},
        token=tenant_a.token,
    )
    assert body["data"]["restoreJourneyMapRevision"]["errors"] == [
        {"code": "NOT_FOUND", "field": "input.version"}
    ]


async def test_duplicate_is_a_deep_copy_with_new_ids(gql: GraphQLClient, tenant_a: Tenant) -> None:
    map_id, _ = await _built(gql, tenant_a)
    copy = await _call(
        gql,
        tenant_a,
        """mutation($input: DuplicateJourneyMapInput!) { duplicateJourneyMap(input: $input) {
             journeyMap { id version scenario } errors { code } } }""",
        {"id": map_id, "title": "Checkout (future)", "scenario": "FUTURE_STATE"},
    )
    copy_id = copy["journeyMap"]["id"]
    assert copy_id != map_id
    original = (await gql(READ, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    duplicate = (await gql(READ, {"id": copy_id}, token=tenant_a.token))["data"]["journeyMap"]
    assert duplicate["title"] == "Checkout (future)"
    assert duplicate["scenario"] == "FUTURE_STATE"
    assert duplicate["version"] == 1

    def shape(m: dict[str, Any]) -> Any:
        return [
            (
                s["name"],
                [
                    (t["name"], t["painPoints"], [o["title"] for o in t["opportunities"]])
                    for t in s["touchpoints"]
                ],
            )
            for s in m["stages"]
        ]

    assert shape(duplicate) == shape(original)
    original_ids = {s["id"] for s in original["stages"]}
    assert original_ids.isdisjoint({s["id"] for s in duplicate["stages"]})
    pay = duplicate["stages"][2]["touchpoints"][0]
    original_pay = original["stages"][2]["touchpoints"][0]
    assert pay["id"] != original_pay["id"]
    # The copied opportunity points at the copied pain point, not the original.
    assert pay["opportunities"][0]["painPointId"] != original_pay["opportunities"][0]["painPointId"]
