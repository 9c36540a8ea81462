"""Initiatives: RICE priority, the status workflow, links, and the outcome of shipping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.initiatives.service import rice
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import World, add_feedback, build_world

FIELDS = """id title status priority shippedAt allowedTransitions owner { email }
  touchpoints { name } painPoints { title } targetMetric { name }
  outcome { before { score sampleSize } after { score sampleSize } change
    standardError significant }"""
CREATE = f"""mutation($input: CreateInitiativeInput!) {{ createInitiative(input: $input) {{
  initiative {{ {FIELDS} }} errors {{ code field message }} }} }}"""
UPDATE = f"""mutation($input: UpdateInitiativeInput!) {{ updateInitiative(input: $input) {{
  initiative {{ {FIELDS} }} errors {{ code field message }} }} }}"""
LIST = """query($ws: ID!, $order: InitiativeOrder!, $status: InitiativeStatus) {
  workspace(id: $ws) { initiatives(orderBy: $order, status: $status, first: 10) {
    totalCount edges { node { title priority status } } } } }"""


async def _create(gql: GraphQLClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await gql(
        CREATE, {"input": {"workspaceId": tenant.ws_gid(0), **fields}}, token=tenant.token
    )
    return dict(body["data"]["createInitiative"])


async def _update(gql: GraphQLClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await gql(UPDATE, {"input": fields}, token=tenant.token)
    return dict(body["data"]["updateInitiative"])


async def test_priority_is_rice_and_lists_order_by_it(gql: GraphQLClient, tenant_a: Tenant) -> None:
    low = await _create(gql, tenant_a, title="Small fix", reach=100, impact=1, confidence=0.5)
    high = await _create(
        gql, tenant_a, title="Big bet", reach=5000, impact=5, confidence=0.8, effort=4
    )
    assert low["errors"] == high["errors"] == []
    assert high["initiative"]["priority"] == pytest.approx(rice(5000, 5, 0.8, 4)) == 5000
    assert low["initiative"]["priority"] == pytest.approx(100 * 1 * 0.5 / 3)
    body = await gql(LIST, {"ws": tenant_a.ws_gid(0), "order": "PRIORITY"}, token=tenant_a.token)
    titles = [e["node"]["title"] for e in body["data"]["workspace"]["initiatives"]["edges"]]
    assert titles == ["Big bet", "Small fix"]
    # Changing an input recomputes it.
    changed = await _update(gql, tenant_a, id=low["initiative"]["id"], reach=1_000_000)
    assert changed["initiative"]["priority"] == pytest.approx(1_000_000 * 0.5 / 3)


async def test_the_status_moves_only_along_allowed_transitions(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    made = (await _create(gql, tenant_a, title="Guest checkout"))["initiative"]
    assert made["status"] == "IDEA"
    assert made["allowedTransitions"] == ["CANCELLED", "PLANNED"]
    skipped = await _update(gql, tenant_a, id=made["id"], status="SHIPPED")
    assert skipped["initiative"] is None
    [error] = skipped["errors"]
    assert error["code"] == "VALIDATION"
    assert error["field"] == "input.status"
    assert "IDEA to SHIPPED" in error["message"]
    for status in ("PLANNED", "IN_PROGRESS", "SHIPPED"):
        moved = await _update(gql, tenant_a, id=made["id"], status=status)
        assert moved["errors"] == []
    shipped = moved["initiative"]
    assert shipped["shippedAt"] is not None  # stamped on shipping
    back = (await _update(gql, tenant_a, id=made["id"], status="IN_PROGRESS"))["initiative"]
    assert back["shippedAt"] is None
    await _update(gql, tenant_a, id=made["id"], status="SHIPPED")
    done = (await _update(gql, tenant_a, id=made["id"], status="DONE"))["initiative"]
    assert done["allowedTransitions"] == []
    final = await _update(gql, tenant_a, id=made["id"], status="IDEA")
    assert final["errors"][0]["code"] == "VALIDATION"


async def test_bad_fields_are_located_and_nothing_is_written(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    for fields, where in (
        ({"impact": 6}, "input.impact"),
        ({"effort": 0}, "input.effort"),
        ({"confidence": 1.5}, "input.confidence"),
        ({"reach": -1}, "input.reach"),
        ({"title": "  "}, "input.title"),
        ({"shippedAt": "2026-01-01T00:00:00+00:00"}, "input.shippedAt"),  # not shipped
    ):
        answer = await _create(gql, tenant_a, **{"title": "X", **fields})
        assert answer["initiative"] is None
        assert answer["errors"][0]["field"] == where, fields
    body = await gql(LIST, {"ws": tenant_a.ws_gid(0), "order": "UPDATED_AT"}, token=tenant_a.token)
    assert body["data"]["workspace"]["initiatives"]["totalCount"] == 0


async def test_links_owner_and_target_metric_are_shown(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    metric = await gql(
        """mutation($input: CreateMetricInput!) { createMetric(input: $input) {
          metric { id } errors { code } } }""",
        {
            "input": {
                "workspaceId": tenant_a.ws_gid(0),
                "name": "Conversion",
                "direction": "HIGHER_IS_BETTER",
                "journeyMapId": global_id("JourneyMap", world.map_id),
            }
        },
        token=tenant_a.token,
    )
    made = await _create(
        gql,
        tenant_a,
        title="Faster pay",
        ownerId=global_id("User", tenant_a.owner_id),
        touchpointIds=[global_id("Touchpoint", t) for t in world.touchpoint_ids[:2]],
        targetMetricId=metric["data"]["createMetric"]["metric"]["id"],
        baseline=0.31,
        target=0.4,
    )
    assert made["errors"] == []
    found = made["initiative"]
    assert found["owner"]["email"] == tenant_a.owner_email
    assert [t["name"] for t in found["touchpoints"]] == ["T0.0", "T0.1"]
    assert found["targetMetric"]["name"] == "Conversion"
    assert found["outcome"] is None  # not shipped yet


async def _feedback(
    database: Database, world: World, touchpoint: Any, values: list[int], days_ago: float
) -> None:
    for value in values:
        await add_feedback(
            database,
            world,
            touchpoint,
            value=value,
            occurred_at=utcnow() - timedelta(days=days_ago),
        )


async def test_the_outcome_compares_equal_windows_around_shipping(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    linked, other = world.touchpoint_ids[0], world.touchpoint_ids[1]
    await _feedback(database, world, linked, [1, 2, 2, 1, 2, 1, 2, 2], 40)  # before
    await _feedback(database, world, linked, [4, 5, 5, 4, 5, 5, 4, 5], 10)  # after
    await _feedback(database, world, linked, [5, 5], 100)  # before the before window
    await _feedback(database, world, other, [5, 5, 5], 40)  # not linked
    shipped = (utcnow() - timedelta(days=30)).isoformat()
    made = await _create(
        gql,
        tenant_a,
        title="Fix the form",
        status="SHIPPED",
        shippedAt=shipped,
        touchpointIds=[global_id("Touchpoint", linked)],
    )
    assert made["errors"] == []
    outcome = made["initiative"]["outcome"]
    # Equal windows of 30 days: the one before holds the 8 poor ratings only.
    assert outcome["before"]["sampleSize"] == 8
    assert outcome["after"]["sampleSize"] == 8
    # Item indexes: CSAT 1 and 2 are not top-2-box (0).
    assert outcome["before"]["score"] == pytest.approx(0.0)
    assert outcome["change"] > 50
    assert outcome["significant"] is True


async def test_a_change_within_noise_is_not_significant(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    linked = world.touchpoint_ids[0]
    await _feedback(database, world, linked, [1, 5, 2, 4, 3], 15)
    await _feedback(database, world, linked, [5, 1, 4, 2, 3, 4], 5)
    made = await _create(
        gql,
        tenant_a,
        title="Tweak copy",
        status="SHIPPED",
        shippedAt=(utcnow() - timedelta(days=10)).isoformat(),
        touchpointIds=[global_id("Touchpoint", linked)],
    )
    outcome = made["initiative"]["outcome"]
    assert outcome["before"]["sampleSize"] == 5
    assert outcome["after"]["sampleSize"] == 6
    assert abs(outcome["change"]) < 1.96 * outcome["standardError"]
    assert outcome["significant"] is False


async def test_every_invalid_field_of_an_initiative_is_reported_at_once(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    payload = await _create(
        gql, tenant_a, title=" ", impact=9, confidence=1.5, reach=-1, department="d" * 121
    )
    assert payload["initiative"] is None
    assert [e["field"] for e in payload["errors"]] == [
        "input.title",
        "input.department",
        "input.impact",
        "input.confidence",
        "input.reach",
    ]


async def test_a_deleted_maps_pain_points_and_opportunities_are_gone_until_it_is_restored(
    gql: GraphQLClient, tenant_a: Tenant, database: Database
) -> None:
    """By id and through an initiative's links, like its touchpoints: an editor must not
    read the content of a map only admins see now (in the deleted, restorable maps)."""
    _, editor = await add_guest(
        database, tenant_a.workspace_ids[0], "editor@client.example", WorkspaceRole.EDITOR
    )
    made = await gql(
        """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws, title: "Returns",
             template: FIVE_STAGE}) { journeyMap { id stages { id } } } }""",
        {"ws": tenant_a.ws_gid(0)},
        token=tenant_a.token,
    )
    journey_map = made["data"]["createJourneyMap"]["journeyMap"]
    touchpoint = (
        await gql(
            """mutation($stage: ID!) { addTouchpoint(input: {stageId: $stage, name: "Label"}) {
                 touchpoint { id } } }""",
            {"stage": journey_map["stages"][0]["id"]},
            token=tenant_a.token,
        )
    )["data"]["addTouchpoint"]["touchpoint"]["id"]
    pain_point = (
        await gql(
            """mutation($tp: ID!) { addPainPoint(input: {touchpointId: $tp,
                 title: "No printer", severity: HIGH}) { painPoint { id } } }""",
            {"tp": touchpoint},
            token=tenant_a.token,
        )
    )["data"]["addPainPoint"]["painPoint"]["id"]
    opportunity = (
        await gql(
            """mutation($tp: ID!, $pp: ID!) { addOpportunity(input: {touchpointId: $tp,
                 title: "QR code", painPointId: $pp}) { opportunity { id } } }""",
            {"tp": touchpoint, "pp": pain_point},
            token=tenant_a.token,
        )
    )["data"]["addOpportunity"]["opportunity"]["id"]
    initiative = await _create(
        gql,
        tenant_a,
        title="Printerless returns",
        touchpointIds=[touchpoint],
        painPointIds=[pain_point],
    )
    read = """query($i: ID!, $pp: ID!, $op: ID!) {
      initiative: node(id: $i) { ... on Initiative { touchpoints { name }
                                                      painPoints { title } } }
      painPoint: node(id: $pp) { ... on PainPoint { title } }
      opportunity: node(id: $op) { ... on Opportunity { title } } }"""
    ids = {"i": initiative["initiative"]["id"], "pp": pain_point, "op": opportunity}
    seen = {
        "initiative": {"touchpoints": [{"name": "Label"}], "painPoints": [{"title": "No printer"}]},
        "painPoint": {"title": "No printer"},
        "opportunity": {"title": "QR code"},
    }
    assert (await gql(read, ids, token=editor))["data"] == seen

    deleted = await gql(
        "mutation($id: ID!) { deleteJourneyMap(input: {id: $id}) { errors { code } } }",
        {"id": journey_map["id"]},
        token=tenant_a.token,
    )
    assert deleted["data"]["deleteJourneyMap"]["errors"] == []
    for token in (editor, tenant_a.token):
        assert (await gql(read, ids, token=token))["data"] == {
            "initiative": {"touchpoints": [], "painPoints": []},
            "painPoint": None,
            "opportunity": None,
        }

    restored = await gql(
        "mutation($id: ID!) { restoreDeletedJourneyMap(input: {id: $id}) { errors { code } } }",
        {"id": journey_map["id"]},
        token=tenant_a.token,
    )
    assert restored["data"]["restoreDeletedJourneyMap"]["errors"] == []
    assert (await gql(read, ids, token=editor))["data"] == seen
