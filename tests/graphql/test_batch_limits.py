"""A batch asks no more than one document may, and a document names the operation it runs.

Before, each operation of a batch was measured on its own: ten operations each just
under the cost limit made a request ten times over it. And a document with two
operations and no ``operationName`` ran its first one, while other parts (the
limits, the map read cache) looked at all or none of them.
"""

from __future__ import annotations

from typing import Any

import httpx
from graphql import parse

from backend.settings import Settings
from graphql_schema.limits import analyze_operation
from graphql_schema.schema import API_LIMITS, MAX_BATCH_OPERATIONS, build_schema
from tests.fixtures.tenants import Tenant
from tests.test_http import bearer

SCHEMA = build_schema(Settings())._schema
COSTLY = """query($n: Int) { viewer { organizations(first: 100) { edges { node {
  workspaces(first: $n) { edges { node { members(first: 10) { totalCount } } } } } } } } }"""


def _cost(query: str, variables: dict[str, Any] | None = None) -> int:
    shape, _ = analyze_operation(SCHEMA, parse(query), None, variables, API_LIMITS)
    return shape.cost


def _just_under_the_limit() -> dict[str, int]:
    """The variables making COSTLY cost as much as the limit allows."""
    n = max(n for n in range(101) if _cost(COSTLY, {"n": n}) <= API_LIMITS.max_cost)
    assert _cost(COSTLY, {"n": n}) > 0.95 * API_LIMITS.max_cost
    return {"n": n}


async def test_a_batch_of_operations_each_under_the_cost_limit_is_refused_before_any_sql(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    one = {"query": COSTLY, "variables": _just_under_the_limit()}
    batch = [one] * MAX_BATCH_OPERATIONS
    sql_statements.clear()
    response = await client.post("/graphql", json=batch, headers=bearer(tenant_a.token))
    assert sql_statements == []
    answers = response.json()
    assert len(answers) == MAX_BATCH_OPERATIONS
    total = MAX_BATCH_OPERATIONS * _cost(COSTLY, one["variables"])
    for answer in answers:
        assert "data" not in answer  # refused before anything ran
        [error] = answer["errors"]
        assert error["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "limit": "batch_cost",
            "max": API_LIMITS.max_cost,
            "actual": total,
        }
    # Alone, the same operation runs.
    alone = await client.post("/graphql", json=one, headers=bearer(tenant_a.token))
    assert alone.json()["data"]["viewer"]["organizations"]["edges"]


async def test_a_batch_shares_one_alias_allowance(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    aliases = " ".join(f"a{i}: email" for i in range(API_LIMITS.max_aliases))
    within = {"query": "{ viewer { user { " + aliases + " } } }"}
    sql_statements.clear()
    response = await client.post("/graphql", json=[within] * 2, headers=bearer(tenant_a.token))
    assert sql_statements == []
    for answer in response.json():
        assert answer["errors"][0]["extensions"]["limit"] == "batch_aliases"
    one_each = {"query": "{ viewer { user { a: email } } }"}
    fine = await client.post("/graphql", json=[one_each] * 3, headers=bearer(tenant_a.token))
    assert [a["data"]["viewer"]["user"]["a"] for a in fine.json()] == [tenant_a.owner_email] * 3


TWO_OPERATIONS = "query Mine { viewer { user { email } } } query Other { __typename }"


async def test_a_document_with_two_operations_and_no_operation_name_is_refused(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    sql_statements.clear()
    for method in ("POST", "GET"):
        if method == "POST":
            response = await client.post(
                "/graphql", json={"query": TWO_OPERATIONS}, headers=bearer(tenant_a.token)
            )
        else:
            response = await client.get(
                "/graphql",
                params={"query": TWO_OPERATIONS},
                headers={**bearer(tenant_a.token), "Accept": "application/json"},
            )
        body = response.json()
        assert "data" not in body, body  # refused before anything ran
        [error] = body["errors"]
        assert error["extensions"] == {"code": "OPERATION_NAME_REQUIRED"}
        assert "operationName" in error["message"]
    assert sql_statements == []
    named = await client.post(
        "/graphql",
        json={"query": TWO_OPERATIONS, "operationName": "Mine"},
        headers=bearer(tenant_a.token),
    )
    assert named.json() == {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}


async def test_a_mutation_behind_a_query_is_not_run_without_its_name(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    document = (
        "query First { __typename } "
        "mutation Second { signOutEverywhere(input: {}) { errors { code } } }"
    )
    sql_statements.clear()
    response = await client.post(
        "/graphql", json={"query": document}, headers=bearer(tenant_a.token)
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert sql_statements == []
