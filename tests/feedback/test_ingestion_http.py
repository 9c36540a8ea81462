"""POST /ingest/v1/feedback with a workspace ingestion token: JSON array or NDJSON,
counts and per-item errors, idempotent, all or nothing on request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import AuditEvent, Feedback
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant, add_guest

CREATE = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Survey tool"}) {
    ingestionToken { id name prefix lastUsedAt revokedAt } token errors { code field } } }"""
REVOKE = """mutation($id: ID!) { revokeIngestionToken(input: {id: $id}) {
  ingestionToken { revokedAt } errors { code field } } }"""
PATH = "/ingest/v1/feedback"


async def _token(gql: GraphQLClient, tenant: Tenant, index: int = 0) -> dict[str, Any]:
    body = await gql(CREATE, {"ws": tenant.ws_gid(index)}, token=tenant.token)
    payload = body["data"]["createIngestionToken"]
    assert payload["errors"] == []
    return dict(payload)


def _item(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "source": "SURVEY",
        "externalId": external_id,
        "measure": "NPS",
        "measureValue": 9,
        **fields,
    }


async def _post(client: httpx.AsyncClient, token: str, body: Any, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    if isinstance(body, (bytes, str)):
        return await client.post(PATH, content=body, headers=headers, **kwargs)
    return await client.post(PATH, json=body, headers=headers, **kwargs)


async def _rows(owner: AsyncEngine) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        return [
            tuple(r)
            for r in (
                await conn.execute(
                    select(
                        Feedback.workspace_id, Feedback.external_id, Feedback.measure_value
                    ).order_by(Feedback.external_id)
                )
            ).all()
        ]


async def test_a_json_array_is_taken_in_with_counts_and_located_errors(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    issued = await _token(gql, tenant_a)
    assert issued["token"].startswith("wpin_")
    assert issued["ingestionToken"]["prefix"] == issued["token"][:12]
    items = [
        _item("r1"),
        _item("r2", measureValue=11),
        {"source": "SURVEY"},
        _item("r3", source="CARRIER_PIGEON"),
        _item("r1"),
        "not an object",
        _item("r4", colour="blue"),
    ]
    answer = await _post(client, issued["token"], items)
    assert answer.status_code == 200, answer.text
    placed = answer.json()
    # Item by item: the kept ones say how they were placed (no link, no match key here).
    assert [(i["index"], i["status"], i.get("placement")) for i in placed.pop("items")] == [
        (0, "ACCEPTED", "NONE"),
        (1, "REJECTED", None),
        (2, "REJECTED", None),
        (3, "REJECTED", None),
        (4, "DUPLICATE", "NONE"),
        (5, "REJECTED", None),
        (6, "REJECTED", None),
    ]
    assert placed.pop("placements") == {"NONE": 1}
    assert placed == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": 5,
        "errors": [
            {
                "index": 1,
                "field": "measureValue",
                "code": "VALIDATION",
                "message": "Must be between 0 and 10.",
            },
            {"index": 2, "field": "externalId", "code": "VALIDATION", "message": "Required."},
            {
                "index": 3,
                "field": "source",
                "code": "VALIDATION",
                "message": (
                    "Must be one of SURVEY, INTERVIEW, SUPPORT_TICKET, REVIEW, SOCIAL, ANALYTICS, "
                    "OTHER."
                ),
            },
            {
                "index": 5,
                "field": None,
                "code": "VALIDATION",
                "message": "Each item must be a JSON object.",
            },
            {"index": 6, "field": "colour", "code": "VALIDATION", "message": "Unknown field."},
        ],
    }
    assert await _rows(inspector_engine) == [(tenant_a.workspace_ids[0], "r1", 9)]
    # The same payload again changes nothing.
    again = await _post(client, issued["token"], items)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert await _rows(inspector_engine) == [(tenant_a.workspace_ids[0], "r1", 9)]


async def test_ndjson_is_read_line_by_line(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    issued = await _token(gql, tenant_a)
    lines = "\n".join(json.dumps(_item(f"n{n}", text="fine")) for n in range(3)) + "\n\n"
    answer = await _post(
        client, issued["token"], lines, headers={"content-type": "application/x-ndjson"}
    )
    assert {k: answer.json()[k] for k in ("accepted", "duplicates", "rejected", "errors")} == {
        "accepted": 3,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
    }
    broken = await _post(
        client,
        issued["token"],
        '{"source": "SURVEY"}\n{oops',
        headers={"content-type": "application/x-ndjson"},
    )
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["message"] == "Line 2 is not JSON."
    assert len(await _rows(inspector_engine)) == 3


async def test_all_or_nothing_keeps_nothing_and_lists_every_bad_item(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    issued = await _token(gql, tenant_a)
    async with inspector_engine.connect() as conn:
        trail = await conn.scalar(select(func.count()).select_from(AuditEvent))
    answer = await _post(
        client,
        issued["token"],
        [_item("a"), _item("b", measureValue=-1), _item("c", measure="X")],
        params={"mode": "all-or-nothing"},
    )
    assert answer.status_code == 422
    assert answer.json()["accepted"] == 0
    assert [(e["index"], e["field"]) for e in answer.json()["errors"]] == [
        (1, "measureValue"),
        (2, "measure"),
    ]
    assert await _rows(inspector_engine) == []
    async with inspector_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(AuditEvent)) == trail


async def test_the_token_reaches_its_workspace_only_and_dies_when_revoked(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    issued = await _token(gql, tenant_a, index=1)
    assert (await _post(client, issued["token"], [_item("w1")])).status_code == 200
    assert await _rows(inspector_engine) == [(tenant_a.workspace_ids[1], "w1", 9)]
    # It is no API token: GraphQL does not know it.
    body = await gql("{ viewer { user { id } } }", token=issued["token"], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    revoked = await gql(REVOKE, {"id": issued["ingestionToken"]["id"]}, token=tenant_a.token)
    assert revoked["data"]["revokeIngestionToken"]["errors"] == []
    refused = await _post(client, issued["token"], [_item("w2")])
    assert refused.status_code == 401
    assert len(await _rows(inspector_engine)) == 1


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("wpin_forged-secret-0123456789", 401), ("wp_an-api-token-is-not-enough", 401)],
)
async def test_no_live_ingestion_token_no_ingestion(
    client: httpx.AsyncClient, token: str | None, status: int
) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = await client.post(PATH, json=[_item("x")], headers=headers)
    assert answer.status_code == status
    assert answer.json()["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_bad_bodies_are_refused_whole(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    issued = await _token(gql, tenant_a)
    for body, message in (
        (b"{not json", "The body is not JSON."),
        (b'{"source": "SURVEY"}', "Send a JSON array of items (or NDJSON)."),
        (b"\xff\xfe", "The body is not UTF-8."),
        (b"[]", "Send at least one item."),
    ):
        answer = await _post(
            client, issued["token"], body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400, body
        assert answer.json()["errors"][0]["message"] == message


async def test_only_workspace_admins_manage_ingestion_tokens(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _, editor = await add_guest(database, tenant_a.workspace_ids[0], "e@x.io", WorkspaceRole.EDITOR)
    as_editor = await gql(CREATE, {"ws": tenant_a.ws_gid(0)}, token=editor)
    assert as_editor["data"]["createIngestionToken"]["errors"] == [
        {"code": "FORBIDDEN", "field": "input.workspaceId"}
    ]
    as_stranger = await gql(CREATE, {"ws": tenant_a.ws_gid(0)}, token=tenant_b.token)
    assert as_stranger["data"]["createIngestionToken"]["errors"] == [
        {"code": "NOT_FOUND", "field": "input.workspaceId"}
    ]
    issued = await _token(gql, tenant_a)
    listed = await gql(
        "query($ws: ID!) { workspace(id: $ws) { ingestionTokens { id name } } }",
        {"ws": tenant_a.ws_gid(0)},
        token=tenant_a.token,
    )
    assert listed["data"]["workspace"]["ingestionTokens"] == [
        {"id": issued["ingestionToken"]["id"], "name": "Survey tool"}
    ]
    theirs = await gql(REVOKE, {"id": issued["ingestionToken"]["id"]}, token=tenant_b.token)
    assert theirs["data"]["revokeIngestionToken"]["errors"] == [
        {"code": "NOT_FOUND", "field": "input.id"}
    ]
