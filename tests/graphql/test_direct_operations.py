"""A query whose every root field is a lookup by id (``workspace``, ``journeyMap``) with a
selection Postgres can write is one statement, its ``data`` whole: the same bytes as the
ordinary engine's resolvers give, null wherever a resolver answers null (an id of
another type, a malformed id, a deleted map, a workspace the caller does not reach),
and nothing of another workspace whoever asks and whatever the ids say."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import JourneyMap
from backend.settings import Settings
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema import engine, json_plans
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.graphql import global_id
from tests.fixtures.planned import (
    answer,
    is_written,
    on_one_connection,
    ordinary_and_planned,
    without_request_ids,
)
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import add_feedback, add_pain, build_world

postgres_only = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the JSON")

MAP_FIELDS = "id title version stages { name touchpoints { name painPoints { title } } }"
LOOKUPS = f"""query Lookups($ws: ID!, $other: ID!, $map: ID!, $gone: ID!, $wrong: ID!,
  $withMaps: Boolean!) {{
  __typename
  here: workspace(id: $ws) {{ __typename id name health {{ score }}
    journeyMaps(first: 5) @include(if: $withMaps) {{ totalCount edges {{ node {{ title }} }} }} }}
  there: workspace(id: $other) {{ name feedback(first: 3) {{ edges {{ node {{ text }} }} }} }}
  map: journeyMap(id: $map) {{ {MAP_FIELDS} }}
  gone: journeyMap(id: $gone) {{ id title }}
  wrongType: journeyMap(id: $wrong) {{ id }}
  junk: workspace(id: "not an id") {{ id }}
}}"""


async def _worlds(database: Database, tenant: Tenant) -> dict[str, Any]:
    """A map in each of A's two workspaces (pain and feedback in the second), and a
    deleted map in the first."""
    here = await build_world(database, tenant.workspace_ids[0], stages=2)
    there = await build_world(database, tenant.workspace_ids[1], stages=1)
    gone = await build_world(database, tenant.workspace_ids[0], stages=1)
    await add_pain(database, there, there.touchpoint_ids[0], Severity.HIGH, title="Secret pain")
    await add_feedback(
        database, there, there.touchpoint_ids[0], text="Secret text", occurred_at=datetime.now(UTC)
    )
    async with database.transaction(gone.binding(), write=True) as session:
        deleted = update(JourneyMap).where(JourneyMap.id == gone.map_id)
        await session.execute(deleted.values(deleted_at=utcnow()))
    return {"here": here, "there": there, "gone": gone}


def _variables(tenant: Tenant, worlds: dict[str, Any], map_world: str) -> dict[str, Any]:
    return {
        "ws": tenant.ws_gid(0),
        "other": tenant.ws_gid(1),
        "map": global_id("JourneyMap", worlds[map_world].map_id),
        "gone": global_id("JourneyMap", worlds["gone"].map_id),
        "wrong": tenant.ws_gid(0),  # a workspace's id where a map's is asked for
        "withMaps": True,
    }


@postgres_only
async def test_an_operation_of_lookups_is_one_statement_answered_as_the_resolvers_answer(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    worlds = await _worlds(database, tenant_a)
    async with ordinary_and_planned(settings, database) as clients:
        for map_world, with_maps in (("there", True), ("here", False)):
            variables = {**_variables(tenant_a, worlds, map_world), "withMaps": with_maps}
            ordinary = await answer(clients[False], LOOKUPS, variables, tenant_a.token)
            await answer(clients[True], LOOKUPS, variables, tenant_a.token)  # the token known
            sql_statements.clear()
            operations = engine.COUNTS["written operations"]
            planned = await answer(clients[True], LOOKUPS, variables, tenant_a.token)
            assert engine.COUNTS["written operations"] == operations + 1
            assert without_request_ids(planned) == without_request_ids(ordinary)
            # The caller's token and grants are read as before; the data is one statement,
            # and no other statement reads a map, a score or feedback.
            tables = ("journey_maps", "health_scores", "feedback")
            reads = [s for s in sql_statements if any(t in s for t in tables)]
            assert len(reads) == 1, sql_statements
            assert is_written(reads[0])
            data = json.loads(planned)["data"]
            assert data["__typename"] == "Query"
            assert ("journeyMaps" in data["here"]) is with_maps
            assert data["gone"] is None  # deleted
            assert data["wrongType"] is None
            assert data["junk"] is None
    assert data["map"]["title"]
    assert data["there"]["feedback"]["edges"]
    secret = json.loads(ordinary)["data"]["there"]
    assert secret["feedback"]["edges"][0]["node"]["text"] == "Secret text"


@postgres_only
async def test_a_guest_and_another_organizations_admin_look_up_nothing_of_a_workspace(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """B's admin asks for A's workspaces and maps by their ids; so does a guest of A's
    first workspace for the second's, once with an unknown token and once known."""
    worlds = await _worlds(database, tenant_a)
    _, guest = await add_guest(
        database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.ADMIN
    )
    variables = _variables(tenant_a, worlds, "there")
    async with ordinary_and_planned(settings, database) as clients:
        own = await answer(clients[True], LOOKUPS, variables, tenant_a.token)
        assert "Secret pain" in own  # the probe can see
        assert "Secret text" in own
        for token in (tenant_b.token, guest):
            for _ in range(2):  # an unknown token, then a known one
                operations = engine.COUNTS["written operations"]
                probed = await answer(clients[True], LOOKUPS, variables, token)
                assert engine.COUNTS["written operations"] == operations + 1
                ordinary = await answer(clients[False], LOOKUPS, variables, token)
                assert without_request_ids(probed) == without_request_ids(ordinary)
                data = json.loads(probed)["data"]
                assert data["there"] is None, probed
                assert data["map"] is None, probed
                assert "Secret" not in probed
                # The guest's own workspace is theirs to read; B's admin reaches neither.
                assert (data["here"] is not None) is (token == guest)


@postgres_only
async def test_every_lookup_in_the_statement_is_bound_to_the_callers_workspaces() -> None:
    """Structural: each lookup's row is tested against $1, the caller's workspaces."""
    from graphql_schema.engine import FieldPlan, ObjectPlan

    def lookup(name: str, type_name: str) -> FieldPlan:
        child = ObjectPlan(type_name, [FieldPlan("id", "id", complete=lambda v: v)])
        return FieldPlan(name, name, complete=lambda v: v, child=child, arguments={"id": "x"})

    plan = ObjectPlan(
        "Query", [lookup("workspace", "Workspace"), lookup("journeyMap", "JourneyMap")]
    )
    written = json_plans.operation(plan, caller=json_plans.Caller())
    assert written.sql.count("= ANY($1::uuid[])") == 2, written.sql
    assert "t1.deleted_at IS NULL" in written.sql
    assert written.parameters == (None, None)  # "x" is no id: no row, as the resolver


async def test_an_operation_with_a_root_field_postgres_cannot_write_keeps_the_resolvers(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """``viewer`` beside a lookup, and SQLite: no statement writes the operation."""
    worlds = await _worlds(database, tenant_a)
    query = (
        "query Mixed($map: ID!) { viewer { user { email } }"
        f" journeyMap(id: $map) {{ {MAP_FIELDS} }} }}"
    )
    variables = {"map": global_id("JourneyMap", worlds["here"].map_id)}
    async with ordinary_and_planned(settings, database) as clients:
        ordinary = await answer(clients[False], query, variables, tenant_a.token)
        operations = engine.COUNTS["written operations"]
        planned = await answer(clients[True], query, variables, tenant_a.token)
        assert engine.COUNTS["written operations"] == operations
        alone = await answer(
            clients[True], LOOKUPS, _variables(tenant_a, worlds, "here"), tenant_a.token
        )
    assert without_request_ids(planned) == without_request_ids(ordinary)
    assert "errors" not in json.loads(planned), planned
    assert json.loads(planned)["data"]["viewer"]["user"]["email"] == tenant_a.owner_email, planned
    written = engine.COUNTS["written operations"] - operations
    assert written == (1 if is_postgres_run() else 0)
    assert json.loads(alone)["data"]["map"]["stages"]


TRAIL = """query Trail($ws: ID!, $first: Int) { workspace(id: $ws) { name
  auditEvents(first: $first) { totalCount edges { node { action actor { user { email } } } } }
} }"""
CREATE_MAP = """mutation($ws: ID!, $title: String!) { createJourneyMap(input: {workspaceId: $ws,
  title: $title}) { errors { code } } }"""


@postgres_only
async def test_an_operations_statement_is_made_once_per_document_variables_and_caller(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """The owner reads the trail, then a guest VIEWER sends the very same document and
    variables: the guest's statement is their own (no trail below ADMIN), not the one
    the owner's request made."""
    _, viewer = await add_guest(
        database, tenant_a.workspace_ids[0], "viewer@alpha.example", WorkspaceRole.VIEWER
    )
    variables = {"ws": tenant_a.ws_gid(0), "first": 5}
    async with ordinary_and_planned(settings, database) as clients:
        for title in ("One", "Two", "Three"):  # a trail to read
            created = await answer(
                clients[True],
                CREATE_MAP,
                {"ws": tenant_a.ws_gid(0), "title": title},
                tenant_a.token,
            )
            assert json.loads(created)["data"]["createJourneyMap"]["errors"] == [], created
        planned = engine.COUNTS["operations planned"]
        owner = [await answer(clients[True], TRAIL, variables, tenant_a.token) for _ in range(3)]
        assert engine.COUNTS["operations planned"] == planned + 1  # then taken as made
        assert json.loads(owner[0])["data"]["workspace"]["auditEvents"]["totalCount"] > 0
        assert len(set(owner)) == 1
        for _ in range(2):
            seen = json.loads(await answer(clients[True], TRAIL, variables, viewer))
            assert seen["data"]["workspace"]["name"], seen
            assert seen["data"]["workspace"]["auditEvents"] is None, seen
        assert engine.COUNTS["operations planned"] == planned + 2
        other_page = {**variables, "first": 2}
        page = json.loads(await answer(clients[True], TRAIL, other_page, tenant_a.token))
        assert len(page["data"]["workspace"]["auditEvents"]["edges"]) == 2
        assert engine.COUNTS["operations planned"] == planned + 3
        ordinary = await answer(clients[False], TRAIL, other_page, tenant_a.token)
    assert json.loads(ordinary) == page


@postgres_only
async def test_only_a_query_of_lookups_signs_in_on_its_reads_transaction(
    settings: Settings, test_database: TestDatabase, database: Database, tenant_a: Tenant
) -> None:
    """The sign-in's transaction is handed to the reads only where they come first: a
    query of lookups. ``viewer`` reads some fields on a transaction of its own, which
    beside a held one would need a second connection: on a pool of one, it would wait
    forever. There the sign-in ends its own first."""
    variables = {"ws": tenant_a.ws_gid(0)}
    async with on_one_connection(settings, test_database) as (client, began):
        for query in (VIEWER, WORKSPACE_NAME):
            for _ in range(2):  # an unknown token, then a known one
                began[0] = 0
                answered = await asyncio.wait_for(
                    answer(client, query, variables, tenant_a.token), 10
                )
                assert "errors" not in json.loads(answered), answered
        assert began[0] == 1  # the known token's lookup: its sign-in and reads in one


VIEWER = "query V { viewer { user { email } workspaces { totalCount } } }"
WORKSPACE_NAME = "query W($ws: ID!) { workspace(id: $ws) { name } }"
