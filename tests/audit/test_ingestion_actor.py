"""Feedback sent with an ingestion token is audited as that token, under the request's id."""

from __future__ import annotations

import httpx

from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

CREATE = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Survey tool"}) {
    ingestionToken { id } token errors { code field } } }"""
TRAIL = """query($ws: ID!) { workspace(id: $ws) { auditEvents(first: 10) {
  edges { node { action requestId actor { type tokenId user { id } } } } } } }"""


async def test_ingested_feedback_names_the_ingestion_token_as_actor_with_the_request_id(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    issued = (await gql(CREATE, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"][
        "createIngestionToken"
    ]
    assert issued["errors"] == []
    item = {"source": "SURVEY", "externalId": "r1", "measure": "NPS", "measureValue": 9}

    answer = await client.post(
        "/ingest/v1/feedback", json=[item], headers={"authorization": f"Bearer {issued['token']}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1

    trail = (await gql(TRAIL, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token))["data"]
    events = [edge["node"] for edge in trail["workspace"]["auditEvents"]["edges"]]
    [submitted] = [e for e in events if e["action"] == "FEEDBACK_SUBMIT"]
    assert submitted["actor"] == {
        "type": "INGESTION_TOKEN",
        "tokenId": issued["ingestionToken"]["id"],
        "user": None,
    }
    assert submitted["requestId"] == answer.headers["x-request-id"]
