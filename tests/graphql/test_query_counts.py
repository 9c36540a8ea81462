"""No N+1: the number of SQL statements does not grow with the number of rows shown."""

from __future__ import annotations

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.models import Workspace
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

NESTED = """{ viewer { workspaces(first: 50) { totalCount edges { node {
  name viewerRole organization { slug viewerRole workspaces(first: 1) { totalCount } }
  members(first: 5) { totalCount edges { node { role user { email } } } }
} } } } }"""


async def _add_workspaces(database: Database, tenant: Tenant, count: int) -> None:
    async with database.transaction(NO_TENANT, write=True) as session:
        for n in range(count):
            session.add(Workspace(organization_id=tenant.organization_id, name=f"bulk {n}"))


async def _statements_for(gql: GraphQLClient, token: str, sql: list[str]) -> int:
    await gql(NESTED, token=token)  # warm: last-used time written at most once a minute
    sql.clear()
    body = await gql(NESTED, token=token)
    assert body["data"]["viewer"]["workspaces"]["edges"]
    return len(sql)


async def test_nested_organization_loads_are_batched(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    few = await _statements_for(gql, tenant_a.token, sql_statements)
    await _add_workspaces(database, tenant_a, 8)
    many = await _statements_for(gql, tenant_a.token, sql_statements)
    # Nested objects and nested connections are batched: one query per kind, not
    # one per workspace.
    assert many == few
    organization_queries = [s for s in sql_statements if "FROM organizations" in s]
    assert len(organization_queries) == 1, organization_queries


async def test_a_page_read_backward_costs_what_a_page_read_forward_does(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    await _add_workspaces(database, tenant_a, 8)
    forward = await _statements_for(gql, tenant_a.token, sql_statements)
    backward_document = NESTED.replace("first:", "last:")
    await gql(backward_document, token=tenant_a.token)
    sql_statements.clear()
    body = await gql(backward_document, token=tenant_a.token)
    assert body["data"]["viewer"]["workspaces"]["edges"]
    assert len(sql_statements) == forward
