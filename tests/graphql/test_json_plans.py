"""Planned subtrees that Postgres writes as JSON (graphql_schema/json_plans.py): the same
bytes as Python's values would give, one statement whatever the map's size, and every
table read filtered to the caller's workspaces. The differential test holds generated
documents to the ordinary engine; these pin what it cannot see."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, Double, Uuid, bindparam, text, update
from strawberry.relay import GlobalID

from backend.db.base import Base
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.models import JourneyMap
from backend.settings import Settings
from backend.vocabulary.journeys import Severity
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema import engine, json_fields, json_plans
from graphql_schema.schema import build_schema
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.graphql import global_id
from tests.fixtures.planned import answer, ordinary_and_planned, without_request_ids
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import add_feedback, add_pain, build_world

MAP = """query M($id: ID!) { journeyMap(id: $id) { id title version updatedAt
  stages { id name position health { score trend confidence }
    touchpoints { id name position emotion momentOfTruth
      painPoints { id title severity status createdAt }
      health { state score low high sampleSize confidence previousScore trend } } } } }"""


def test_a_non_null_field_is_written_only_from_columns_that_cannot_be_null() -> None:
    """Postgres' JSON is not checked against the schema as Python's values are: a field
    the schema promises is never null must come from NOT NULL columns alone."""
    schema = build_schema(Settings())._schema
    tables = Base.metadata.tables
    for type_name, table in json_fields.TABLES.items():
        graphql_type = schema.type_map[type_name]
        for name, expression in table.leaves.items():
            written = expression("t")
            columns = set(re.findall(r"\bt\.(\w+)", written))
            assert columns, (type_name, name)
            field = graphql_type.fields[name]  # type: ignore[attr-defined]
            if field.type.__class__.__name__ == "GraphQLNonNull":
                nullable = [c for c in columns if tables[table.name].c[c].nullable]
                assert not nullable, (type_name, name, nullable)


def test_every_table_read_is_filtered_to_the_callers_workspaces() -> None:
    """The map by the caller's workspaces; each row reached from it by the workspace of
    the row it is reached from: by the caller's workspaces, transitively."""
    plan = _plan_of_every_relation()
    scoped = json_plans.statement(plan, scoped=True).sql
    tables = re.findall(r"FROM (\w+) (t\d+)\b", scoped)
    assert len(tables) == 5, tables  # the map, its stages, touchpoints, pain points, health
    assert "t0.workspace_id = ANY($2::uuid[])" in scoped
    parents = {"t1": "t0", "t2": "t1", "t3": "t2", "t4": "t0"}  # stages, tps, pains, health
    for _table, alias in tables:
        if alias != "t0":
            assert f"{alias}.workspace_id = {parents[alias]}.workspace_id AND" in scoped, alias
    assert "$2" not in json_plans.statement(plan, scoped=False).sql


def _plan_of_every_relation() -> Any:
    class Field:
        def __init__(self, name: str, child: Any = None) -> None:
            self.key = self.name = name
            self.child = child
            self.constant = None
            self.arguments = None

    class Object:
        def __init__(self, type_name: str, *fields: Field) -> None:
            self.type_name = type_name
            self.fields = list(fields)

    health = Object("HealthScore", Field("score"))
    pains = Object("PainPoint", Field("title"))
    touchpoint = Object("Touchpoint", Field("name"), Field("painPoints", pains))
    stage = Object("Stage", Field("name"), Field("touchpoints", touchpoint))
    return Object("JourneyMap", Field("title"), Field("stages", stage), Field("health", health))


postgres_only = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the JSON")


async def _selected(database: Database, sql: str, value: Any, type_: Any) -> str:
    """``sql`` (reading ``x.v``) over one value, as Postgres writes it, on the app's role."""
    statement = text(f"select ({sql})::text from (select :v as v) as x")
    statement = statement.bindparams(bindparam("v", type_=type_))
    async with database.connection(NO_TENANT) as connection:
        return str((await connection.execute(statement, {"v": value})).scalar())


@postgres_only
@hypothesis_settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
    | st.sampled_from([0.0, 100.0, 1e-05, 0.0001, 33.43097246449297, 99.99999999999999])
)
async def test_a_float_is_written_as_python_writes_it(database: Database, value: float) -> None:
    if value == 0:
        value = 0.0  # -0.0 is no score's value; Python writes it "-0.0"
    written = await _selected(database, json_fields._float_of("x.v"), value, Double())
    assert written == json.dumps(value)


@postgres_only
@pytest.mark.parametrize("length", range(1, 31))
async def test_a_node_id_is_written_as_strawberry_writes_it(
    database: Database, length: int
) -> None:
    """Around 20 bytes of type name, "Type:uuid" no longer fits on one line of
    Postgres' base64: the id is the same either way, with no line break in it."""
    type_name = ("Touchpoint" * 3)[:length]
    value = UUID("0a5e1c4f-3b2d-4e6f-8a9b-c0d1e2f30415")
    statement = text(
        f"select ({json_fields._node_id(type_name)('x')})::text from (select :id as id) as x"
    ).bindparams(bindparam("id", type_=Uuid()))
    async with database.connection(NO_TENANT) as connection:
        written = str((await connection.execute(statement, {"id": value})).scalar())
    assert json.loads(written) == str(GlobalID(type_name, str(value)))


@postgres_only
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 6, 22, 29, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
async def test_a_date_time_is_written_as_isoformat_writes_it(
    database: Database, moment: datetime
) -> None:
    written = await _selected(
        database, json_fields._datetime("v")("x"), moment, DateTime(timezone=True)
    )
    assert json.loads(written) == moment.isoformat()


@postgres_only
async def test_a_map_read_is_one_statement_whatever_its_size(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    sql_statements: list[str],
) -> None:
    small = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    large = await build_world(
        database, tenant_a.workspace_ids[0], stages=4, touchpoints_per_stage=5
    )
    for world in (small, large):
        await add_pain(database, world, world.touchpoint_ids[-1], Severity.HIGH, title="Queue")
    counts = []
    async with ordinary_and_planned(settings, database) as clients:
        for world in (small, large):
            variables = {"id": global_id("JourneyMap", world.map_id)}
            ordinary = await answer(clients[False], MAP, variables, tenant_a.token)
            await answer(clients[True], MAP, variables, tenant_a.token)  # the token known
            sql_statements.clear()
            written = engine.COUNTS["written by postgres"]
            planned = await answer(clients[True], MAP, variables, tenant_a.token)
            assert engine.COUNTS["written by postgres"] == written + 1
            assert planned == ordinary
            assert "Queue" in planned
            counts.append(len(sql_statements))
    # The token with its grants; then the map, then its whole subtree as JSON.
    assert counts[0] == counts[1], counts


@postgres_only
async def test_another_organizations_admin_and_a_guest_are_written_nothing(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[1], stages=2)
    await add_pain(database, world, world.touchpoint_ids[0], Severity.HIGH, title="Secret pain")
    now = datetime.now(UTC)
    await add_feedback(database, world, world.touchpoint_ids[0], text="Secret", occurred_at=now)
    _, guest = await add_guest(
        database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.EDITOR
    )
    map_variables = {"id": global_id("JourneyMap", world.map_id)}
    list_variables = {"id": tenant_a.ws_gid(1)}
    async with ordinary_and_planned(settings, database) as clients:
        written = engine.COUNTS["written by postgres"]
        own = await answer(clients[True], MAP, map_variables, tenant_a.token)
        assert "Secret pain" in own  # the owner reads it: the probe can see
        assert engine.COUNTS["written by postgres"] > written
        for token in (tenant_b.token, guest):
            for _ in range(2):  # an unknown token, then a known one
                other = await answer(clients[True], MAP, map_variables, token)
                assert json.loads(other) == {"data": {"journeyMap": None}}, other
                listed = await answer(clients[True], FEEDBACK, list_variables, token)
                assert "Secret" not in listed, listed


@pytest.mark.skipif(is_postgres_run(), reason="the SQLite half of the rule")
async def test_sqlite_keeps_the_python_plan(
    client: httpx.AsyncClient, database: Database, tenant_a: Tenant
) -> None:
    """On SQLite, Python builds the subtree; nothing is written as JSON."""
    world = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    written = engine.COUNTS["written by postgres"]
    variables = {"id": global_id("JourneyMap", world.map_id)}
    answered = await answer(client, MAP, variables, tenant_a.token)
    assert json.loads(answered)["data"]["journeyMap"]["stages"]
    assert engine.COUNTS["written by postgres"] == written


FEEDBACK = """query F($id: ID!) { workspace(id: $id) { feedback(first: 50) { edges { node {
  id source measure measureValue text sentiment sentimentStatus occurredAt receivedAt
  placement customerRef
  touchpoint { id name health { score } } stage { name } journeyMap { id title } } } } } }"""


@postgres_only
async def test_a_feedback_list_is_written_as_the_ordinary_engine_answers_it(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """Links as the by-id loaders follow them: none when unset, and none to a stage or
    touchpoint of a deleted map (nor to the map); sentiment only once scored."""
    kept = await build_world(database, tenant_a.workspace_ids[0], stages=2)
    gone = await build_world(database, tenant_a.workspace_ids[0], stages=1)
    now = datetime.now(UTC)
    await add_feedback(database, kept, kept.touchpoint_ids[1], sentiment=-0.5, occurred_at=now)
    await add_feedback(database, kept, kept.touchpoint_ids[0], text="unscored", occurred_at=now)
    await add_feedback(database, kept, None, stage_id=kept.stage_ids[1], occurred_at=now)
    await add_feedback(database, kept, None, value=None, measure=None, occurred_at=now)
    await add_feedback(database, gone, gone.touchpoint_ids[0], sentiment=0.25, occurred_at=now)
    async with database.transaction(gone.binding(), write=True) as session:
        deleted = update(JourneyMap).where(JourneyMap.id == gone.map_id)
        await session.execute(deleted.values(deleted_at=utcnow()))
    variables = {"id": tenant_a.ws_gid(0)}
    async with ordinary_and_planned(settings, database) as clients:
        ordinary = await answer(clients[False], FEEDBACK, variables, tenant_a.token)
        written = engine.COUNTS["written by postgres"]
        planned = await answer(clients[True], FEEDBACK, variables, tenant_a.token)
    assert engine.COUNTS["written by postgres"] > written
    assert without_request_ids(planned) == without_request_ids(ordinary)
    nodes = [e["node"] for e in json.loads(ordinary)["data"]["workspace"]["feedback"]["edges"]]
    assert len(nodes) == 5
    assert sum(n["touchpoint"] is None for n in nodes) == 3  # unset twice, a deleted map's
    assert sum(n["journeyMap"] is None for n in nodes) == 1  # the deleted map
    assert sorted(str(n["sentiment"]) for n in nodes) == ["-0.5", "0.25", "None", "None", "None"]
