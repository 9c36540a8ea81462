"""A bearer token seen before is checked and its grants read in one transaction
(graphql_schema/authentication.py ``token_access``), and nothing about it is trusted
from the last request: revoking it, or taking a grant away, counts at the next one.

Each runs twice: as in development, and with production's private schema, where the
caller is signed in before validation (graphql_schema/private_schema.py): that path
once checked every token the slow way, and then read its grants again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from backend.db.engine import Database
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.schema import API_LIMITS
from tests.fixtures.databases import TestDatabase
from tests.fixtures.graphql import global_id
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import add_pain, build_world
from tests.test_http import http_client, production_settings

WORKSPACE = "query W($id: ID!) { workspace(id: $id) { name } }"
CREATE_TOKEN = """mutation { createApiToken(input: {name: "second"}) {
  token apiToken { id } errors { code } } }"""
REVOKE_TOKEN = """mutation R($id: ID!) { revokeApiToken(input: {id: $id}) { errors { code } } }"""
REMOVE_MEMBER = """mutation M($ws: ID!, $user: ID!) {
  removeWorkspaceMember(input: {workspaceId: $ws, userId: $user}) { errors { code } } }"""


@pytest_asyncio.fixture(loop_scope="session", params=["development", "production"])
async def served(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    test_database: TestDatabase,
    database: Database,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API as the tests' settings serve it, or as production does (private schema)."""
    if request.param == "development":
        yield client
        return
    async with http_client(production_settings(test_database), database) as http:
        yield http


async def _ask(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.json()


def _unauthenticated(answer: Any) -> bool:
    return [e["extensions"]["code"] for e in answer.get("errors", [])] == ["UNAUTHENTICATED"]


async def test_a_known_token_costs_one_transaction_fewer(
    served: httpx.AsyncClient, database: Database, tenant_a: Tenant, transactions: list[int]
) -> None:
    counts = []
    for _ in range(3):
        before = transactions[0]
        answer = await _ask(served, tenant_a.token, WORKSPACE, id=tenant_a.ws_gid(0))
        assert answer["data"]["workspace"]["name"], answer
        counts.append(transactions[0] - before)
    # First: the token, its last use, the grants, the read. Then: token and grants
    # together, the read (the last use is stamped at most once a minute); on Postgres
    # all in one transaction, bound again for the read.
    assert counts[0] == 4
    assert counts[1:] == ([1, 1] if database.dialect == "postgresql" else [2, 2])


async def test_a_revoked_token_is_refused_at_its_next_request(
    served: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    created = (await _ask(served, tenant_a.token, CREATE_TOKEN))["data"]["createApiToken"]
    second = created["token"]
    for _ in range(2):  # known now
        answer = await _ask(served, second, WORKSPACE, id=tenant_a.ws_gid(0))
        assert answer["data"]["workspace"]["name"], answer
    revoked = await _ask(served, tenant_a.token, REVOKE_TOKEN, id=created["apiToken"]["id"])
    assert revoked["data"]["revokeApiToken"]["errors"] == []
    assert _unauthenticated(await _ask(served, second, WORKSPACE, id=tenant_a.ws_gid(0)))


async def test_a_grant_taken_away_counts_at_the_next_request(
    served: httpx.AsyncClient, database: Database, tenant_a: Tenant
) -> None:
    guest_id, guest_token = await add_guest(
        database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.EDITOR
    )
    for _ in range(2):  # known now, with the grant
        answer = await _ask(served, guest_token, WORKSPACE, id=tenant_a.ws_gid(0))
        assert answer["data"]["workspace"]["name"], answer
    removed = await _ask(
        served,
        tenant_a.token,
        REMOVE_MEMBER,
        ws=tenant_a.ws_gid(0),
        user=global_id("User", guest_id),
    )
    assert removed["data"]["removeWorkspaceMember"]["errors"] == [], removed
    answer = await _ask(served, guest_token, WORKSPACE, id=tenant_a.ws_gid(0))
    assert answer["data"] == {"workspace": None} or _unauthenticated(answer), answer


MAP = """query M($id: ID!) { journeyMap(id: $id) { title stages { name
  touchpoints { name painPoints { title } health { score } } } } }"""
LISTS = """query L($id: ID!) { workspace(id: $id) {
  feedback(first: 100) { edges { node { text touchpoint { name } journeyMap { title } } } }
  auditEvents(first: 100) { edges { node { action actor { user { email } } } } } } }"""


async def test_another_organizations_admin_and_a_guest_read_nothing_once_known(
    served: httpx.AsyncClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Known tokens and the planned engine together: the admin of another organization,
    and a guest of one of A's workspaces asking for the other, read none of it, however
    often they ask (first as unknown tokens, then as known ones)."""
    world = await build_world(database, tenant_a.workspace_ids[1], stages=2)
    await add_pain(database, world, world.touchpoint_ids[0], Severity.HIGH, title="Secret pain")
    _, guest_token = await add_guest(
        database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.EDITOR
    )
    own = await _ask(served, tenant_a.token, MAP, id=global_id("JourneyMap", world.map_id))
    assert "Secret pain" in str(own), own  # the owner reads it: the probe can see
    for token in (tenant_b.token, guest_token):
        for _ in range(3):
            answer = await _ask(served, token, MAP, id=global_id("JourneyMap", world.map_id))
            assert answer == {"data": {"journeyMap": None}}, answer
            listed = await _ask(served, token, LISTS, id=tenant_a.ws_gid(1))
            assert listed["data"] is None or listed["data"]["workspace"] is None, listed
            assert "Secret" not in str(listed)


async def test_a_request_refused_after_its_sign_in_gives_its_connection_back(
    served: httpx.AsyncClient, database: Database, tenant_a: Tenant
) -> None:
    """In production a known token is signed in before validation, in the transaction
    the request's reads then take up: a document refused at validation, and a batch
    refused as a whole, must still end it."""
    await _ask(served, tenant_a.token, WORKSPACE, id=tenant_a.ws_gid(0))  # the token known
    refused = await _ask(served, tenant_a.token, "query Q { workspace(id: 1) { nope } }")
    assert "nope" in refused["errors"][0]["message"], refused  # refused at validation
    assert database.engine.pool.checkedout() == 0
    aliases = " ".join(f"a{i}: email" for i in range(API_LIMITS.max_aliases))
    within = {"query": "{ viewer { user { " + aliases + " } } }"}
    batch = await served.post(
        "/graphql", json=[within] * 2, headers={"Authorization": f"Bearer {tenant_a.token}"}
    )
    assert batch.json()[0]["errors"][0]["extensions"]["limit"] == "batch_aliases"
    assert database.engine.pool.checkedout() == 0
    answer = await _ask(served, tenant_a.token, WORKSPACE, id=tenant_a.ws_gid(0))
    assert answer["data"]["workspace"]["name"], answer
    assert database.engine.pool.checkedout() == 0
