"""Poison input, as an attacker sent it: a lone surrogate, a NUL, a time outside any
sane range. Each is refused with a located VALIDATION error (in a mutation's payload,
or top-level for a query's arguments), nothing is stored, and a row stored before these
checks existed (written here through the owner's connection) still lists for everyone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import Feedback
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.databases import TestDatabase
from tests.fixtures.graphql import post_raw as post
from tests.fixtures.tenants import Tenant, add_guest

SUBMIT = """mutation($input: SubmitFeedbackInput!) { submitFeedback(input: $input) {
  feedback { id tags occurredAt } errors { code field message } } }"""
LIST = """query($ws: ID!) { workspace(id: $ws) {
  feedback { totalCount edges { node { externalId tags occurredAt } } } } }"""
CREATE_PERSONA = """mutation($input: CreatePersonaInput!) { createPersona(input: $input) {
  persona { id name } errors { code field message } } }"""
PERSONAS = """query($ws: ID!, $search: String) { workspace(id: $ws) {
  personas(search: $search) { totalCount } } }"""
TRAIL = """query($ws: ID!, $filter: AuditEventFilter) { workspace(id: $ws) {
  auditEvents(filter: $filter) { totalCount } } }"""
# Year edges: a time zone far enough east or west moves the instant into another year.
YEAR_EDGES = [
    "0001-01-01T00:00:00+14:00",  # 1 BC in UTC: stored as such by Postgres
    "9999-12-31T23:00:00-14:00",  # year 10000 in UTC
    "1899-12-31T23:59:59+00:00",
    "1900-01-01T00:30:00+01:00",  # 1899 in UTC
    "2200-12-31T23:30:00-01:00",  # 2201 in UTC
    "2020-01-01T00:00:00+15:00",  # no place is 15 hours ahead
]


def _item(external_id: str = "poison") -> dict[str, Any]:
    return {"source": "SURVEY", "externalId": external_id, "measure": "CSAT", "measureValue": 4}


async def _submit(
    client: httpx.AsyncClient, tenant: Tenant, item: dict[str, Any]
) -> dict[str, Any]:
    body = await post(
        client, SUBMIT, {"input": {"workspaceId": tenant.ws_gid(0), "item": item}}, tenant.token
    )
    assert "errors" not in body, body
    return dict(body["data"]["submitFeedback"])


async def _stored(owner: AsyncEngine) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(Feedback)) or 0)


async def _viewer(database: Database, tenant: Tenant) -> str:
    _, token = await add_guest(
        database, tenant.workspace_ids[0], "viewer@elsewhere.example", WorkspaceRole.VIEWER
    )
    return token


async def test_a_lone_surrogate_tag_is_refused_and_the_listing_keeps_working(
    client: httpx.AsyncClient, tenant_a: Tenant, database: Database, inspector_engine: AsyncEngine
) -> None:
    payload = await _submit(client, tenant_a, {**_item(), "tags": ["\udfff"]})
    assert payload["feedback"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "input.item.tags[0]")
    ]
    assert await _stored(inspector_engine) == 0
    await _submit(client, tenant_a, _item("fine"))
    listed = await post(client, LIST, {"ws": tenant_a.ws_gid(0)}, await _viewer(database, tenant_a))
    assert "errors" not in listed, listed
    assert listed["data"]["workspace"]["feedback"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "fine\x00then not"}, "input.item.text"),
        ({"externalId": "id\x00"}, "input.item.externalId"),
        ({"customerRef": "\ud800"}, "input.item.customerRef"),
        ({"eventName": "a\udfffb"}, "input.item.eventName"),
        ({"tags": ["ok", "\x00"]}, "input.item.tags[1]"),
    ],
)
async def test_nul_and_lone_surrogates_are_refused_in_any_feedback_string(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    changes: dict[str, Any],
    field: str,
) -> None:
    payload = await _submit(client, tenant_a, {**_item(), **changes})
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)]
    assert await _stored(inspector_engine) == 0


@pytest.mark.parametrize("moment", YEAR_EDGES)
async def test_times_outside_the_sane_range_are_refused(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    database: Database,
    inspector_engine: AsyncEngine,
    moment: str,
) -> None:
    payload = await _submit(client, tenant_a, {**_item(), "occurredAt": moment})
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "input.item.occurredAt")
    ]
    assert await _stored(inspector_engine) == 0
    listed = await post(client, LIST, {"ws": tenant_a.ws_gid(0)}, await _viewer(database, tenant_a))
    assert "errors" not in listed, listed


async def test_times_at_the_edges_of_the_range_are_taken_and_kept_in_utc(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    early = await _submit(
        client, tenant_a, {**_item("early"), "occurredAt": "1900-01-01T00:00:00Z"}
    )
    assert early["errors"] == []
    eastern = await _submit(
        client, tenant_a, {**_item("eastern"), "occurredAt": "2024-01-01T09:00:00+14:00"}
    )
    assert eastern["errors"] == []
    assert eastern["feedback"]["occurredAt"] == "2023-12-31T19:00:00+00:00"


async def test_a_nul_in_a_persona_name_is_a_located_payload_error(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    body = await post(
        client,
        CREATE_PERSONA,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "name": "Busy\x00Parent"}},
        tenant_a.token,
    )
    payload = body["data"]["createPersona"]
    assert payload["persona"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "input.name")]


async def test_poison_in_a_field_no_service_reads_as_text_is_still_refused(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    # An id is decoded, never stored as given; the input check refuses it all the same.
    body = await post(
        client,
        CREATE_PERSONA,
        {"input": {"workspaceId": "\udfff", "name": "Parent"}},
        tenant_a.token,
    )
    payload = body["data"]["createPersona"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "input.workspaceId")
    ]


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (PERSONAS, {"search": "a\x00"}, "search"),
        (PERSONAS, {"search": "\udfff"}, "search"),
        (TRAIL, {"filter": {"action": "persona\x00"}}, "filter.action"),
        (TRAIL, {"filter": {"occurredAfter": "0001-01-01T00:00:00+14:00"}}, "filter.occurredAfter"),
        (
            TRAIL,
            {"filter": {"occurredBefore": "9999-12-31T23:00:00-14:00"}},
            "filter.occurredBefore",
        ),
    ],
)
async def test_poison_in_query_arguments_is_a_located_top_level_error(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    body = await post(client, query, {"ws": tenant_a.ws_gid(0), **variables}, tenant_a.token)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("VALIDATION", field)


async def test_poison_in_a_literal_argument_is_refused_too(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    query = 'query($ws: ID!) { workspace(id: $ws) { personas(search: "\\u0000") { totalCount } } }'
    body = await post(client, query, {"ws": tenant_a.ws_gid(0)}, tenant_a.token)
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("VALIDATION", "search")


async def test_a_lone_surrogate_in_an_unused_variable_breaks_nothing(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    # Variables the document does not declare are never read, but they are still
    # JSON the server holds (and a cache may key on).
    created = await post(
        client,
        """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws, title: "Map"}) {
             journeyMap { id } errors { code } } }""",
        {"ws": tenant_a.ws_gid(0)},
        tenant_a.token,
    )
    map_id = created["data"]["createJourneyMap"]["journeyMap"]["id"]
    body = await post(
        client,
        "query($id: ID!) { journeyMap(id: $id) { id title } }",
        {"id": map_id, "extra": "\udfff"},
        tenant_a.token,
    )
    assert body["data"]["journeyMap"] == {"id": map_id, "title": "Map"}


async def test_a_row_stored_before_the_checks_still_lists(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    database: Database,
    inspector_engine: AsyncEngine,
    test_database: TestDatabase,
) -> None:
    """What each database let through before: SQLite kept a lone surrogate in a JSON tag
    (written as the escape), Postgres a time in 1 BC, which no Python datetime holds."""
    workspace = tenant_a.workspace_ids[0]
    now = datetime.now(UTC)
    row = {
        "workspace_id": workspace,
        "id": uuid4(),
        "source": "SURVEY",
        "external_id": "stored-before",
        "measure": "CSAT",
        "measure_value": 2,
        "text": "",
        "tags": ["ok", "bad\udfff"],
        "occurred_at": now,
        "received_at": now,
    }
    async with inspector_engine.begin() as conn:
        if test_database.is_postgres:
            row["tags"] = ["ok"]  # jsonb refuses a lone surrogate outright
            await conn.execute(insert(Feedback.__table__), [row])
            await conn.execute(
                text(
                    "UPDATE feedback SET occurred_at = "
                    "CAST('0001-01-01T00:00:00+14:00' AS timestamptz) WHERE external_id = :e"
                ),
                {"e": "stored-before"},
            )
        else:
            await conn.execute(insert(Feedback.__table__), [row])
    listed = await post(client, LIST, {"ws": tenant_a.ws_gid(0)}, await _viewer(database, tenant_a))
    assert "errors" not in listed, listed
    [edge] = listed["data"]["workspace"]["feedback"]["edges"]
    if test_database.is_postgres:
        assert edge["node"]["occurredAt"] == "0001-01-01T00:00:00+00:00"
    else:
        assert edge["node"]["tags"] == ["ok", "bad\ufffd"]
