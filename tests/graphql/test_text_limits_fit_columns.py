"""Every text limit the API enforces fits the column that stores the text.

A client finds the limit as a client does: by sending too much and reading the
message. Then it sends exactly that much, which must be stored, never an INTERNAL
error. On Postgres a column narrower than its limit fails the insert (stage names were
checked to 200 characters but stored in 120); SQLite does not enforce lengths, so the
second half of each case also reads the value back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

LIMIT = re.compile(r"Must be at most (\d+) characters\.")
TOO_LONG = "x" * 15_000  # past every field's limit, within the cap on any string (20,000)

MAP = """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
  journeyMap { id title description } errors { code message field } } }"""
STAGE = """mutation($input: AddStageInput!) { addStage(input: $input) {
  stage { id name description } errors { code message field } } }"""
TOUCHPOINT = """mutation($input: AddTouchpointInput!) { addTouchpoint(input: $input) {
  touchpoint { id name description owningDepartment } errors { code message field } } }"""
PAIN_POINT = """mutation($input: AddPainPointInput!) { addPainPoint(input: $input) {
  painPoint { id title description } errors { code message field } } }"""
OPPORTUNITY = """mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) {
  opportunity { id title description } errors { code message field } } }"""
PERSONA = """mutation($input: CreatePersonaInput!) { createPersona(input: $input) {
  persona { id name summary quote occupation location } errors { code message field } } }"""
INITIATIVE = """mutation($input: CreateInitiativeInput!) { createInitiative(input: $input) {
  initiative { id title description department } errors { code message field } } }"""
METRIC = """mutation($input: CreateMetricInput!) { createMetric(input: $input) {
  metric { id name unit } errors { code message field } } }"""
WORKSPACE = """mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) {
  workspace { id name } errors { code message field } } }"""


async def _payload(
    gql: GraphQLClient, tenant: Tenant, document: str, input_: dict[str, Any]
) -> dict[str, Any]:
    body = await gql(document, {"input": input_}, token=tenant.token)
    assert "errors" not in body, body  # never INTERNAL
    return dict(next(iter(body["data"].values())))


async def _map_with_touchpoint(gql: GraphQLClient, tenant: Tenant) -> dict[str, str]:
    journey = await _payload(gql, tenant, MAP, {"workspaceId": tenant.ws_gid(0), "title": "M"})
    map_id = journey["journeyMap"]["id"]
    stage = await _payload(gql, tenant, STAGE, {"journeyMapId": map_id, "name": "S"})
    stage_id = stage["stage"]["id"]
    touchpoint = await _payload(gql, tenant, TOUCHPOINT, {"stageId": stage_id, "name": "T"})
    return {"map": map_id, "stage": stage_id, "touchpoint": touchpoint["touchpoint"]["id"]}


METRIC_INPUT = {
    "workspaceId": "ws",
    "touchpointId": "touchpoint",
    "name": "N",
    "direction": "HIGHER_IS_BETTER",
}
# (document, the object's key in the payload, the required input, the text field)
CASES: list[tuple[str, str, dict[str, str], str]] = [
    (MAP, "journeyMap", {"workspaceId": "ws", "title": "M"}, "title"),
    (MAP, "journeyMap", {"workspaceId": "ws", "title": "M"}, "description"),
    (STAGE, "stage", {"journeyMapId": "map", "name": "S"}, "name"),
    (STAGE, "stage", {"journeyMapId": "map", "name": "S"}, "description"),
    (TOUCHPOINT, "touchpoint", {"stageId": "stage", "name": "T"}, "name"),
    (TOUCHPOINT, "touchpoint", {"stageId": "stage", "name": "T"}, "description"),
    (TOUCHPOINT, "touchpoint", {"stageId": "stage", "name": "T"}, "owningDepartment"),
    (
        PAIN_POINT,
        "painPoint",
        {"touchpointId": "touchpoint", "title": "P", "severity": "LOW"},
        "title",
    ),
    (OPPORTUNITY, "opportunity", {"touchpointId": "touchpoint", "title": "O"}, "title"),
    (PERSONA, "persona", {"workspaceId": "ws", "name": "P"}, "name"),
    (PERSONA, "persona", {"workspaceId": "ws", "name": "P"}, "summary"),
    (PERSONA, "persona", {"workspaceId": "ws", "name": "P"}, "quote"),
    (PERSONA, "persona", {"workspaceId": "ws", "name": "P"}, "occupation"),
    (PERSONA, "persona", {"workspaceId": "ws", "name": "P"}, "location"),
    (INITIATIVE, "initiative", {"workspaceId": "ws", "title": "I"}, "title"),
    (INITIATIVE, "initiative", {"workspaceId": "ws", "title": "I"}, "department"),
    (METRIC, "metric", METRIC_INPUT, "name"),
    (METRIC, "metric", METRIC_INPUT, "unit"),
    (WORKSPACE, "workspace", {"organizationId": "org", "name": "W"}, "name"),
]


@pytest.mark.parametrize(
    ("document", "key", "required", "field"),
    CASES,
    ids=[f"{key}.{field}" for _, key, _, field in CASES],
)
async def test_the_longest_accepted_text_is_stored(
    gql: GraphQLClient,
    tenant_a: Tenant,
    document: str,
    key: str,
    required: dict[str, str],
    field: str,
) -> None:
    ids = {"ws": tenant_a.ws_gid(0), "org": tenant_a.org_gid}
    if {"map", "stage", "touchpoint"} & set(required.values()):
        ids |= await _map_with_touchpoint(gql, tenant_a)
    # A persona's name is unique in its workspace: each attempt gets its own.
    base = {name: ids.get(value, value) for name, value in required.items()}

    refused = await _payload(gql, tenant_a, document, {**base, field: TOO_LONG})
    assert [e["field"] for e in refused["errors"]] == [f"input.{field}"], refused
    found = LIMIT.fullmatch(refused["errors"][0]["message"])
    assert found is not None, refused["errors"]
    longest = "y" * int(found.group(1))

    stored = await _payload(gql, tenant_a, document, {**base, field: longest})
    assert stored["errors"] == [], stored
    assert stored[key][field] == longest
