"""The query limits on the real schema and app: refused before any SQL runs.

Each request carries a valid token, so a refusal with zero SQL statements shows
the document was refused before authentication, resolvers or loaders ran.
"""

from __future__ import annotations

import httpx
import pytest
from graphql import get_introspection_query

from graphql_schema.schema import API_LIMITS, MAX_BATCH_OPERATIONS
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

LIMITS = API_LIMITS


def _deep_query(depth: int) -> str:
    # workspace -> organization -> workspaces -> edges -> node -> organization -> ...
    inner = "id"
    for _ in range(depth):
        inner = f"organization {{ workspaces(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    return f"{{ viewer {{ workspaces(first: 1) {{ edges {{ node {{ {inner} }} }} }} }} }}"


def _aliases_through_fragments(spreads: int) -> str:
    aliases = " ".join(f"a{i}: email" for i in range(10))
    return (
        "fragment U on User { " + aliases + " } "
        "{ viewer { user { " + " ".join(["...U"] * spreads) + " } } }"
    )


REFUSED = {
    "depth": _deep_query(4),
    "aliases": _aliases_through_fragments(4),
    "cost": "{ viewer { organizations(first: 100) { edges { node { workspaces(first: 100) {"
    " edges { node { members(first: 100) { totalCount } } } } } } } } }",
    "page_size": "{ viewer { workspaces(first: 1000) { totalCount } } }",
    "tokens": "{ viewer { user { " + " ".join(["__typename"] * (LIMITS.max_tokens + 1)) + " } } }",
}


@pytest.mark.parametrize("limit", sorted(REFUSED))
async def test_limit_is_enforced_before_any_sql(
    gql: GraphQLClient, tenant_a: Tenant, sql_statements: list[str], limit: str
) -> None:
    body = await gql(REFUSED[limit], token=tenant_a.token, expect_errors=True)
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert error["extensions"]["limit"] == limit
    assert sql_statements == []


async def test_aliases_count_once_per_fragment_spread(gql: GraphQLClient, tenant_a: Tenant) -> None:
    # 10 aliases spread 3 times is 30: at the limit, and it runs.
    assert LIMITS.max_aliases == 30
    body = await gql(_aliases_through_fragments(3), token=tenant_a.token)
    assert body["data"]["viewer"]["user"]["a9"] == tenant_a.owner_email


async def test_cost_uses_first_from_variables(
    gql: GraphQLClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    query = """query($n: Int) { viewer { organizations(first: $n) { edges { node {
                 workspaces(first: $n) { edges { node { members(first: $n) { totalCount } } } }
               } } } } }"""
    cheap = await gql(query, {"n": 2}, token=tenant_a.token)
    assert cheap["data"]["viewer"]["organizations"]["edges"]
    sql_statements.clear()
    costly = await gql(query, {"n": 100}, token=tenant_a.token, expect_errors=True)
    assert costly["errors"][0]["extensions"]["limit"] == "cost"
    assert sql_statements == []


async def test_graphiql_introspection_passes_without_a_token(
    gql: GraphQLClient, sql_statements: list[str]
) -> None:
    body = await gql(get_introspection_query(descriptions=True, input_value_deprecation=True))
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert sql_statements == []


async def test_a_batch_over_the_cap_is_refused_before_any_sql(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    batch = [{"query": "{ viewer { user { email } } }"}] * (MAX_BATCH_OPERATIONS + 1)
    response = await client.post(
        "/graphql", json=batch, headers={"Authorization": f"Bearer {tenant_a.token}"}
    )
    assert response.status_code == 400
    assert sql_statements == []
    within = await client.post(
        "/graphql", json=batch[:2], headers={"Authorization": f"Bearer {tenant_a.token}"}
    )
    assert [r["data"]["viewer"]["user"]["email"] for r in within.json()] == [
        tenant_a.owner_email
    ] * 2


async def test_mutation_over_get_is_refused_before_any_sql(
    client: httpx.AsyncClient, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    mutation = (
        f'mutation {{ createWorkspace(input: {{organizationId: "{tenant_a.org_gid}", name: "x"}})'
        " { errors { code } } }"
    )
    response = await client.get(
        "/graphql",
        params={"query": mutation},
        headers={"Authorization": f"Bearer {tenant_a.token}", "Accept": "application/json"},
    )
    assert response.status_code == 405
    assert sql_statements == []


async def test_queries_over_get_work(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "{ viewer { user { email } } }"},
        headers={"Authorization": f"Bearer {tenant_a.token}", "Accept": "application/json"},
    )
    assert response.json() == {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}
