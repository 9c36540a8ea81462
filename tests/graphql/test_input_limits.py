"""Big inputs cost what the caps allow, not what the attacker sends: a 100,000-item list
or a 100,000-character string sent as a GraphQL variable (variables are not tokens, so
the document limits do not see them) is refused with a located error before the list
is coerced or normalised. The work is counted, not timed: every string graphql-core
coerces passes through the String scalar's ``parse_value``, and every list item a
service normalises through ``backend.validation.optional_text``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLString

from backend import validation
from graphql_schema import input_guard
from tests.fixtures.counting import Calls, count_calls
from tests.fixtures.graphql import post_raw as post
from tests.fixtures.tenants import Tenant

HUGE = 100_000
CREATE_PERSONA = """mutation($input: CreatePersonaInput!) { createPersona(input: $input) {
  persona { id goals } errors { code field message } } }"""
SUBMIT = """mutation($input: SubmitFeedbackInput!) { submitFeedback(input: $input) {
  feedback { id tags } errors { code field message } } }"""
CREATE_MAP = """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
  journeyMap { id } errors { code field message } } }"""
PERSONAS = """query($ws: ID!, $search: String) { workspace(id: $ws) {
  personas(search: $search) { totalCount } } }"""
MAPS = """query($ws: ID!, $search: String) { workspace(id: $ws) {
  journeyMaps(search: $search) { totalCount } } }"""
TRAIL = """query($ws: ID!, $filter: AuditEventFilter) { workspace(id: $ws) {
  auditEvents(filter: $filter) { totalCount } } }"""


@pytest.fixture
def coerced(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Counts the strings graphql-core coerces from variables."""
    return count_calls(monkeypatch, GraphQLString, "parse_value")


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Counts the list items services normalise (``text_list`` calls ``optional_text``)."""
    return count_calls(monkeypatch, validation, "optional_text")


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    """The one top-level error's code and field."""
    assert body.get("data") is None, body
    [error] = body["errors"]
    return error["extensions"]["code"], error["extensions"]["field"]


async def test_a_hundred_thousand_goals_are_refused_before_any_is_read(
    client: httpx.AsyncClient, tenant_a: Tenant, coerced: Calls, normalised: Calls
) -> None:
    # Short items, so the list fits under the request body cap (1 MiB) and reaches GraphQL.
    goals = [str(n % 10) for n in range(HUGE)]
    body = await post(
        client,
        CREATE_PERSONA,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "name": "Flood", "goals": goals}},
        tenant_a.token,
    )
    assert refusal(body) == ("VALIDATION", "input.goals")
    assert coerced.count < 10  # the ids and the name, not the list
    assert normalised.count == 0


async def test_a_list_over_its_field_cap_is_refused_before_its_items_are_normalised(
    client: httpx.AsyncClient, tenant_a: Tenant, normalised: Calls
) -> None:
    goals = [f"goal {n}" for n in range(validation.MAX_LIST)]
    body = await post(
        client,
        CREATE_PERSONA,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "name": "Flood", "goals": goals}},
        tenant_a.token,
    )
    payload = body["data"]["createPersona"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "input.goals")]
    assert normalised.count == 0


async def test_a_hundred_thousand_tags_on_one_feedback_item_are_refused(
    client: httpx.AsyncClient, tenant_a: Tenant, coerced: Calls, normalised: Calls
) -> None:
    item = {
        "source": "SURVEY",
        "externalId": "flood",
        "measure": "CSAT",
        "measureValue": 3,
        "tags": ["t"] * HUGE,
    }
    body = await post(
        client, SUBMIT, {"input": {"workspaceId": tenant_a.ws_gid(0), "item": item}}, tenant_a.token
    )
    assert refusal(body) == ("VALIDATION", "input.item.tags")
    assert coerced.count < 10
    assert normalised.count == 0


async def test_a_hundred_thousand_ids_in_a_list_of_ids_are_refused(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    ids = ["x"] * HUGE  # short, to fit under the request body cap
    body = await post(
        client,
        CREATE_MAP,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "title": "Flood", "personaIds": ids}},
        tenant_a.token,
    )
    assert refusal(body) == ("VALIDATION", "input.personaIds")


async def test_lists_nested_in_a_batch_are_each_capped(
    client: httpx.AsyncClient, tenant_a: Tenant, normalised: Calls
) -> None:
    batch = """mutation($input: SubmitFeedbackBatchInput!) { submitFeedbackBatch(input: $input) {
      accepted errors { code field } } }"""
    items = [
        {"source": "SURVEY", "externalId": f"i{n}", "measure": "CSAT", "measureValue": 3}
        for n in range(3)
    ]
    items[2]["tags"] = ["t"] * HUGE
    body = await post(
        client,
        batch,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "items": items}},
        tenant_a.token,
    )
    assert refusal(body) == ("VALIDATION", "input.items[2].tags")
    assert normalised.count == 0
    too_many = [items[0]] * (input_guard.MAX_LIST + 1)
    body = await post(
        client,
        batch,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "items": too_many}},
        tenant_a.token,
    )
    assert refusal(body) == ("VALIDATION", "input.items")


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (PERSONAS, {"search": "a" * HUGE}, "search"),
        (MAPS, {"search": "a" * HUGE}, "search"),
        (PERSONAS, {"search": "a" * (validation.MAX_SEARCH_LENGTH + 1)}, "search"),
        (MAPS, {"search": "a" * (validation.MAX_SEARCH_LENGTH + 1)}, "search"),
        (TRAIL, {"filter": {"action": "a" * HUGE}}, "filter.action"),
        (TRAIL, {"filter": {"action": "a" * (validation.MAX_SEARCH_LENGTH + 1)}}, "filter.action"),
    ],
)
async def test_long_search_patterns_are_refused_with_a_located_error(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    body = await post(client, query, {"ws": tenant_a.ws_gid(0), **variables}, tenant_a.token)
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("VALIDATION", field)


async def test_a_search_pattern_within_the_cap_still_searches(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    body = await post(
        client,
        PERSONAS,
        {"ws": tenant_a.ws_gid(0), "search": "a" * validation.MAX_SEARCH_LENGTH},
        tenant_a.token,
    )
    assert "errors" not in body, body
    assert body["data"]["workspace"]["personas"]["totalCount"] == 0


async def test_a_huge_string_literal_in_the_document_is_refused(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    # One token, however long: the token cap does not bound it.
    query = (
        'query($ws: ID!) { workspace(id: $ws) { personas(search: "'
        + "a" * HUGE
        + '") { totalCount } } }'
    )
    body = await post(client, query, {"ws": tenant_a.ws_gid(0)}, tenant_a.token)
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("VALIDATION", "search")


async def test_an_oversized_string_in_a_mutation_is_a_payload_error(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    body = await post(
        client,
        CREATE_PERSONA,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "name": "n" * HUGE}},
        tenant_a.token,
    )
    payload = body["data"]["createPersona"]
    assert payload["persona"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "input.name")]
