"""A query of lookups Postgres wrote whole once is answered again by its statement alone
(graphql_schema/written_queries.py): no executor is built, and the body is byte for
byte what the ordinary engine answers. Whatever a check would refuse, and whoever else
sends the very same request, goes the ordinary way and gets its answer; nothing
learned from the owner's request reaches another caller, and a revoked token or a
grant taken away counts at the next request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from graphql import GraphQLError

from backend.db.engine import Database
from backend.settings import Settings
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema import engine, written_queries
from graphql_schema.input_guard import Verdict
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.graphql import global_id
from tests.fixtures.planned import answer, is_written, on_one_connection, ordinary_and_planned
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import add_pain, build_world

pytestmark = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the JSON")

DASHBOARD = """query Dashboard($id: ID!, $first: Int = 20, $withMaps: Boolean = true) {
  workspace(id: $id) { __typename name health { score trend }
    journeyMaps(first: $first) @include(if: $withMaps) {
      totalCount edges { node { id title version ...Scored } } } } }
fragment Scored on JourneyMap { health { score previousScore sampleSize } }"""
MAP = """query Map($map: ID!) { journeyMap(id: $map) { title
  stages { name touchpoints { name painPoints { title severity } } } } }"""
TRAIL = """query Trail($ws: ID!) { workspace(id: $ws) { name
  auditEvents(first: 5) { totalCount edges { node { action } } } } }"""
CREATE_TOKEN = """mutation { createApiToken(input: {name: "second"}) {
  token apiToken { id } errors { code } } }"""
CREATE_MAP = """mutation($ws: ID!) { createJourneyMap(input: {workspaceId: $ws,
  title: "Audited"}) { errors { code } } }"""
REVOKE_TOKEN = """mutation R($id: ID!) { revokeApiToken(input: {id: $id}) { errors { code } } }"""
REMOVE_MEMBER = """mutation M($ws: ID!, $user: ID!) {
  removeWorkspaceMember(input: {workspaceId: $ws, userId: $user}) { errors { code } } }"""


@pytest.fixture
def executors_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the planned engine's executor was built (graphql-core ran)."""
    built = [0]
    build = engine.PlannedExecutor.build.__func__  # type: ignore[attr-defined]

    def counted(cls: type[engine.PlannedExecutor], *args: Any, **kwargs: Any) -> Any:
        built[0] += 1
        return build(cls, *args, **kwargs)

    monkeypatch.setattr(engine.PlannedExecutor, "build", classmethod(counted))
    return built


def _direct() -> int:
    return engine.COUNTS["answered directly"]


async def _world(database: Database, tenant: Tenant) -> str:
    """A map with a pain point in A's first workspace; its global id."""
    world = await build_world(database, tenant.workspace_ids[0], stages=2)
    await add_pain(database, world, world.touchpoint_ids[0], Severity.HIGH, title="Secret pain")
    return global_id("JourneyMap", world.map_id)


async def test_a_query_written_once_is_answered_by_its_statement_alone(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    executors_built: list[int],
    sql_statements: list[str],
) -> None:
    map_id = await _world(database, tenant_a)
    requests = [
        (DASHBOARD, {"id": tenant_a.ws_gid(0)}),
        (DASHBOARD, {"id": tenant_a.ws_gid(0), "first": 1, "withMaps": True}),
        (DASHBOARD, {"id": tenant_a.ws_gid(1), "withMaps": False}),
        (MAP, {"map": map_id}),
    ]
    async with ordinary_and_planned(settings, database) as clients:
        for query, variables in requests:
            ordinary = await answer(
                clients[False], query, variables, tenant_a.token, sort_keys=False
            )
            first = await answer(clients[True], query, variables, tenant_a.token, sort_keys=False)
            assert first == ordinary
            built, direct = executors_built[0], _direct()
            sql_statements.clear()
            again = await answer(clients[True], query, variables, tenant_a.token, sort_keys=False)
            assert _direct() == direct + 1, query
            assert executors_built[0] == built  # graphql-core did not run
            assert again == ordinary  # the same bytes, keys in the same order
            # The token and its grants (one statement), the binding for the reads and
            # the statement, in one transaction; the last use is stamped at most once
            # a minute.
            assert sum(s.startswith("BEGIN") for s in sql_statements) <= 1, sql_statements
            signing_in = [s for s in sql_statements if "api_tokens" in s]
            assert len(signing_in) == 1, sql_statements
            assert "organization_memberships" in signing_in[0]
            assert sum(is_written(s) for s in sql_statements) == 1
            assert len(sql_statements) == 4, sql_statements  # and the two bindings
    data = json.loads(again)["data"]
    assert "Secret pain" in again
    assert data["journeyMap"]["stages"]


async def test_whatever_a_check_refuses_is_answered_the_ordinary_way(
    settings: Settings, database: Database, tenant_a: Tenant, executors_built: list[int]
) -> None:
    """The document is one the direct way has answered; each request below breaks one
    of the checks it makes (a limit, the input guard, a variable's type, the caller), and
    each gets exactly the ordinary engine's answer."""
    variables = {"id": tenant_a.ws_gid(0)}
    refused = [
        ({**variables, "first": 101}, tenant_a.token),  # over the page size
        ({"id": "x" * 20_001}, tenant_a.token),  # the input guard: too long
        ({**variables, "withMaps": "yes"}, tenant_a.token),  # not a Boolean
        ({"id": None}, tenant_a.token),  # null for a non-null variable
        (variables, "wp_" + "0" * 40),  # no such token
        (variables, ""),  # no credential
    ]
    async with ordinary_and_planned(settings, database) as clients:
        for _ in range(2):
            await answer(clients[True], DASHBOARD, variables, tenant_a.token)
        assert _direct() > 0
        for sent, token in refused:
            direct = _direct()
            ordinary = await _post(clients[False], DASHBOARD, sent, token)
            planned = await _post(clients[True], DASHBOARD, sent, token)
            assert planned == ordinary, sent
            assert "errors" in planned[1], planned
            assert _direct() == direct
        # And the direct way still answers the owner afterwards.
        direct = _direct()
        await answer(clients[True], DASHBOARD, variables, tenant_a.token)
        assert _direct() == direct + 1


async def _post(client: httpx.AsyncClient, query: str, variables: Any, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    for error in body.get("errors", []):
        (error.get("extensions") or {}).pop("requestId", None)
    return response.status_code, body


async def test_another_organizations_admin_and_a_guest_sending_the_owners_request(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The owner's request is answered directly; B's admin, a guest ADMIN of A's other
    workspace and a guest VIEWER of this one then send the very same bytes, twice each
    (an unknown token, then a known one): each gets what the ordinary engine gives them,
    and nothing of the owner's answer."""
    map_id = await _world(database, tenant_a)
    _, other = await add_guest(
        database, tenant_a.workspace_ids[1], "other@alpha.example", WorkspaceRole.ADMIN
    )
    _, viewer = await add_guest(
        database, tenant_a.workspace_ids[0], "viewer@alpha.example", WorkspaceRole.VIEWER
    )
    requests = [(MAP, {"map": map_id}), (TRAIL, {"ws": tenant_a.ws_gid(0)})]
    async with ordinary_and_planned(settings, database) as clients:
        created = await answer(
            clients[True], CREATE_MAP, {"ws": tenant_a.ws_gid(0)}, tenant_a.token
        )
        assert json.loads(created)["data"]["createJourneyMap"]["errors"] == [], created
        owner = []
        for query, variables in requests:
            direct = _direct()
            for _ in range(3):
                owner.append(await answer(clients[True], query, variables, tenant_a.token))
            assert _direct() == direct + 2
        assert "Secret pain" in owner[0]  # the probe can see
        assert json.loads(owner[-1])["data"]["workspace"]["auditEvents"]["totalCount"] > 0
        for token in (tenant_b.token, other, viewer):
            for query, variables in requests:
                for _ in range(2):
                    ordinary = await answer(clients[False], query, variables, token)
                    planned = await answer(clients[True], query, variables, token)
                    assert planned == ordinary, (token, query)
                    data = json.loads(planned)["data"]
                    if token == viewer:  # reads the map, but no audit trail below ADMIN
                        assert data.get("workspace") is None or (
                            data["workspace"]["auditEvents"] is None
                        ), planned
                    else:
                        assert list(data.values()) == [None], planned
                        assert "Secret" not in planned


async def test_a_revoked_token_and_a_grant_taken_away_count_at_the_next_request(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    guest_id, guest = await add_guest(
        database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.EDITOR
    )
    await add_guest(
        database, tenant_a.workspace_ids[1], "guest@alpha.example", WorkspaceRole.EDITOR
    )
    variables = {"id": tenant_a.ws_gid(0)}
    async with ordinary_and_planned(settings, database) as clients:
        planned = clients[True]
        created = json.loads(await answer(planned, CREATE_TOKEN, {}, tenant_a.token))
        second = created["data"]["createApiToken"]
        for token in (second["token"], guest):
            for _ in range(3):
                read = json.loads(await answer(planned, DASHBOARD, variables, token))
                assert read["data"]["workspace"]["name"], read
        direct = _direct()
        await answer(planned, DASHBOARD, variables, guest)
        assert _direct() == direct + 1  # both known, and answered directly

        revoked = await answer(
            planned, REVOKE_TOKEN, {"id": second["apiToken"]["id"]}, tenant_a.token
        )
        assert json.loads(revoked)["data"]["revokeApiToken"]["errors"] == []
        refused = json.loads(await answer(planned, DASHBOARD, variables, second["token"]))
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
        assert "data" not in refused  # refused before anything ran

        removed = await answer(
            planned,
            REMOVE_MEMBER,
            {"ws": tenant_a.ws_gid(0), "user": global_id("User", guest_id)},
            tenant_a.token,
        )
        assert json.loads(removed)["data"]["removeWorkspaceMember"]["errors"] == [], removed
        gone = json.loads(await answer(planned, DASHBOARD, variables, guest))
        assert gone == {"data": {"workspace": None}}, gone
        kept = json.loads(await answer(planned, DASHBOARD, {"id": tenant_a.ws_gid(1)}, guest))
        assert kept["data"]["workspace"]["name"], kept  # the other workspace is still theirs


async def test_on_a_pool_of_one_neither_way_waits_for_a_second_connection(
    settings: Settings, test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    """The direct way signs in on the request's read transaction and runs its statement
    there, one transaction in all; a request it leaves to the ordinary way (a variable
    it has no statement for yet) also goes through on the one connection."""
    async with on_one_connection(settings, test_database) as (client, began):
        for first in (20, 20, 20, 3, 3):  # 3: a statement not made yet, then made
            direct = _direct()
            began[0] = 0
            variables = {"id": tenant_a.ws_gid(0), "first": first}
            answered = await asyncio.wait_for(
                answer(client, DASHBOARD, variables, tenant_a.token), 10
            )
            assert "errors" not in json.loads(answered), answered
        assert _direct() == direct + 1
        assert began[0] == 1


@pytest.mark.parametrize("check", ["check_limits", "inspect_operation"])
async def test_the_direct_way_makes_the_checks_that_read_the_variables_itself(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    check: str,
) -> None:
    """Today a statement is only ever made for variables the limits and the input guard
    passed, so they pass again; should either one day refuse what it passed before (a
    limit per caller, say), the direct way must hear it: here they refuse everything."""
    variables = {"id": tenant_a.ws_gid(0)}
    async with ordinary_and_planned(settings, database) as clients:
        for _ in range(2):
            await answer(clients[True], DASHBOARD, variables, tenant_a.token)
        refusal = Verdict(GraphQLError("refused"), {})
        refuse = {"check_limits": [GraphQLError("refused")], "inspect_operation": refusal}[check]
        monkeypatch.setattr(written_queries, check, lambda *_, **__: refuse)
        direct = _direct()
        await answer(clients[True], DASHBOARD, variables, tenant_a.token)
        assert _direct() == direct
