"""POST /ingest/v1/feedback under attack: 100,000 items, 100,000 tags, lone surrogates, NUL
and times outside any sane range. Each is refused with a located error (per item where
there are items), the good items are kept, the answer is never a 500, and the work done
is bounded by the caps (counted, not timed)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend import validation
from backend.feedback import service, wire
from backend.models import Feedback
from tests.fixtures.counting import Calls, count_calls
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

PATH = "/ingest/v1/feedback"
HUGE = 100_000
CREATE = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Survey tool"}) { token } }"""


@pytest.fixture
def items_read(monkeypatch: pytest.MonkeyPatch) -> Calls:
    return count_calls(monkeypatch, wire, "read_item")


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Counts list items normalised (``text_list`` calls ``optional_text`` for each)."""
    return count_calls(monkeypatch, validation, "optional_text")


async def _token(gql: GraphQLClient, tenant: Tenant) -> str:
    body = await gql(CREATE, {"ws": tenant.ws_gid(0)}, token=tenant.token)
    return str(body["data"]["createIngestionToken"]["token"])


def _item(external_id: str) -> dict[str, Any]:
    return {"source": "SURVEY", "externalId": external_id, "measure": "NPS", "measureValue": 9}


async def _post(
    client: httpx.AsyncClient, token: str, body: str, content_type: str = "application/json"
) -> httpx.Response:
    return await client.post(
        PATH,
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": content_type},
    )


async def _external_ids(owner: AsyncEngine) -> list[str]:
    async with owner.connect() as conn:
        return sorted((await conn.scalars(select(Feedback.external_id))).all())


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
async def test_a_hundred_thousand_items_are_refused_before_any_is_read(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    items_read: Calls,
    content_type: str,
) -> None:
    token = await _token(gql, tenant_a)
    items = [{}] * HUGE
    body = "\n".join("{}" for _ in items) if "ndjson" in content_type else json.dumps(items)
    answer = await _post(client, token, body, content_type)
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", "items")
    assert items_read.count == 0


async def test_a_hundred_thousand_tags_are_a_located_item_error(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    normalised: Calls,
) -> None:
    token = await _token(gql, tenant_a)
    body = json.dumps([_item("good"), {**_item("flood"), "tags": ["t"] * HUGE}])
    answer = await _post(client, token, body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert [(e["index"], e["field"], e["code"]) for e in result["errors"]] == [
        (1, "tags", "VALIDATION")
    ]
    assert normalised.count == 0
    assert await _external_ids(inspector_engine) == ["good"]


async def test_poison_strings_and_times_are_per_item_errors(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    token = await _token(gql, tenant_a)
    items = [
        _item("good"),
        {**_item("surrogate-tag"), "tags": ["\udfff"]},
        {**_item("nul-text"), "text": "a\x00b"},
        _item("surrogate-id\udfff"),
        {**_item("bc"), "occurredAt": "0001-01-01T00:00:00+14:00"},
        {**_item("far"), "occurredAt": "9999-12-31T23:00:00-14:00"},
        {**_item("offset"), "occurredAt": "2020-01-01T00:00:00+15:00"},
        {**_item("unknown"), "\udfffcolour": "blue"},
        {**_item("long-search-key"), "eventName": "e" * HUGE},
    ]
    # json.dumps writes each lone surrogate as the escape "\udfff", as an attacker would.
    answer = await _post(client, token, json.dumps(items))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (1, len(items) - 1)
    assert [(e["index"], e["field"], e["code"]) for e in result["errors"]] == [
        (1, "tags[0]", "VALIDATION"),
        (2, "text", "VALIDATION"),
        (3, "externalId", "VALIDATION"),
        (4, "occurredAt", "VALIDATION"),
        (5, "occurredAt", "VALIDATION"),
        (6, "occurredAt", "VALIDATION"),
        (7, "\ufffdcolour", "VALIDATION"),  # named as sent, as far as JSON can carry it
        (8, "eventName", "VALIDATION"),
    ]
    assert await _external_ids(inspector_engine) == ["good"]


async def test_a_batch_at_the_cap_is_still_taken(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    token = await _token(gql, tenant_a)
    body = json.dumps([_item(f"r{n}") for n in range(service.MAX_BATCH)])
    answer = await _post(client, token, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == service.MAX_BATCH


async def test_ndjson_lines_are_split_on_line_feeds_only(
    client: httpx.AsyncClient, gql: GraphQLClient, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    # JSON allows U+2028 and U+0085 unescaped inside a string: they end no NDJSON line.
    token = await _token(gql, tenant_a)
    lines = [
        json.dumps({**_item("a"), "text": "one\u2028two\x85three"}, ensure_ascii=False),
        json.dumps(_item("b")),
    ]
    answer = await _post(client, token, "\r\n".join(lines), "application/x-ndjson")
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    assert await _external_ids(inspector_engine) == ["a", "b"]
