"""Every type with an id is a Node: `node(id)` fetches it as its other readers show it,
and answers null, never an error, for anything the caller may not see.

Who sees what, for every kind of caller roles.md defines, is in test_role_matrix
(``test_node_finds_what_the_callers_readers_show``); every id against another tenant in
test_isolation_generated."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from graphql import GraphQLNonNull, GraphQLObjectType, get_named_type

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models import Feedback
from backend.settings import Settings
from backend.vocabulary.feedback import FeedbackSource, SentimentStatus
from graphql_schema.relay import decode_global_id
from graphql_schema.schema import build_schema
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on PainPoint { title severity }
  ... on Opportunity { title painPointId }
  ... on Feedback { text touchpoint { id } } } }"""


def test_every_type_with_an_id_is_a_node(settings: Settings) -> None:
    schema = build_schema(settings)._schema
    node = schema.get_type("Node")
    with_ids = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        id_field = type_.fields.get("id")
        if (
            id_field is not None
            and isinstance(id_field.type, GraphQLNonNull)
            and get_named_type(id_field.type).name == "ID"
        ):
            with_ids.append(type_.name)
            assert node in type_.interfaces, type_.name
    assert {"PainPoint", "Opportunity", "Feedback", "DeadLetter", "Invitation"} <= set(with_ids)


async def _ok(gql: GraphQLClient, tenant: Tenant, query: str, input_: dict[str, Any]) -> Any:
    body = await gql(query, {"input": input_}, token=tenant.token)
    (payload,) = body["data"].values()
    assert payload["errors"] == [], payload
    return payload


async def _map_with_findings(gql: GraphQLClient, tenant: Tenant) -> dict[str, str]:
    created = await _ok(
        gql,
        tenant,
        """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
          journeyMap { id stages { id } } errors { code } } }""",
        {"workspaceId": tenant.ws_gid(0), "title": "Checkout", "template": "FIVE_STAGE"},
    )
    touchpoint = await _ok(
        gql,
        tenant,
        """mutation($input: AddTouchpointInput!) { addTouchpoint(input: $input) {
          touchpoint { id } errors { code } } }""",
        {"stageId": created["journeyMap"]["stages"][2]["id"], "name": "Pay"},
    )
    pain = await _ok(
        gql,
        tenant,
        """mutation($input: AddPainPointInput!) { addPainPoint(input: $input) {
          painPoint { id } errors { code } } }""",
        {"touchpointId": touchpoint["touchpoint"]["id"], "title": "Declined", "severity": "HIGH"},
    )
    idea = await _ok(
        gql,
        tenant,
        """mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) {
          opportunity { id } errors { code } } }""",
        {
            "touchpointId": touchpoint["touchpoint"]["id"],
            "title": "PayPal",
            "painPointId": pain["painPoint"]["id"],
        },
    )
    return {
        "map": created["journeyMap"]["id"],
        "stage": created["journeyMap"]["stages"][2]["id"],
        "touchpoint": touchpoint["touchpoint"]["id"],
        "pain": pain["painPoint"]["id"],
        "idea": idea["opportunity"]["id"],
    }


async def _node(gql: GraphQLClient, id_: str, token: str) -> Any:
    body = await gql(NODE, {"id": id_}, token=token)  # never an error
    return body["data"]["node"]


async def test_pain_points_opportunities_and_feedback_are_nodes_of_their_tenant_only(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    ids = await _map_with_findings(gql, tenant_a)
    async with database.transaction(
        TenantBinding(frozenset({tenant_a.workspace_ids[0]})), write=True
    ) as session:
        item = Feedback(
            workspace_id=tenant_a.workspace_ids[0],
            source=FeedbackSource.SURVEY,
            external_id="r-1",
            text="Card declined twice",
            touchpoint_id=_uuid(ids["touchpoint"]),
            sentiment_status=SentimentStatus.UNSCORED,
            occurred_at=utcnow(),
        )
        session.add(item)
    feedback = global_id("Feedback", item.id)

    assert await _node(gql, ids["pain"], tenant_a.token) == {
        "__typename": "PainPoint",
        "id": ids["pain"],
        "title": "Declined",
        "severity": "HIGH",
    }
    assert await _node(gql, ids["idea"], tenant_a.token) == {
        "__typename": "Opportunity",
        "id": ids["idea"],
        "title": "PayPal",
        "painPointId": ids["pain"],
    }
    assert await _node(gql, feedback, tenant_a.token) == {
        "__typename": "Feedback",
        "id": feedback,
        "text": "Card declined twice",
        "touchpoint": {"id": ids["touchpoint"]},
    }
    # Another tenant's member: null, exactly as for an id that names nothing.
    for id_ in (ids["pain"], ids["idea"], feedback):
        assert await _node(gql, id_, tenant_b.token) is None
    for type_name in ("PainPoint", "Opportunity", "Feedback"):
        assert await _node(gql, global_id(type_name, uuid4()), tenant_a.token) is None


async def test_what_a_deleted_map_holds_is_no_node_until_the_map_is_restored(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    """As its stages and touchpoints: a deleted map takes its pain points and
    opportunities out of reach by id, even for the ADMIN who may restore it."""
    ids = await _map_with_findings(gql, tenant_a)
    held = [ids["stage"], ids["touchpoint"], ids["pain"], ids["idea"]]
    await _ok(
        gql,
        tenant_a,
        """mutation($input: DeleteJourneyMapInput!) { deleteJourneyMap(input: $input) {
          errors { code } } }""",
        {"id": ids["map"]},
    )
    assert [await _node(gql, id_, tenant_a.token) for id_ in held] == [None] * 4
    await _ok(
        gql,
        tenant_a,
        """mutation($input: DeleteJourneyMapInput!) {
          restoreDeletedJourneyMap(input: $input) { errors { code } } }""",
        {"id": ids["map"]},
    )
    assert [(await _node(gql, id_, tenant_a.token))["id"] for id_ in held] == held


def _uuid(id_: str) -> UUID:
    decoded = decode_global_id(id_)
    assert decoded is not None
    return decoded[1]
