"""Cached map reads: served from memory while current, never stale, never across tenants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLType

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.settings import Settings
from graphql_schema.map_read_cache import CACHEABLE, ROOT_FIELD, ROOT_TYPE, plan_for
from graphql_schema.schema import build_schema
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_feedback, build_world

MAP = """query MapRead($id: ID!) { journeyMap(id: $id) { id title version
  stages { name touchpoints { id name painPoints { title severity }
    health { score sampleSize } } } } }"""

RENAME = """mutation($input: UpdateTouchpointInput!) {
  updateTouchpoint(input: $input) { errors { code } } }"""
ADD_PAIN = """mutation($input: AddPainPointInput!) {
  addPainPoint(input: $input) { errors { code } } }"""
RECALCULATE = """mutation($input: RecalculateHealthInput!) {
  recalculateHealth(input: $input) { errors { code } } }"""
DELETE = """mutation($input: DeleteJourneyMapInput!) {
  deleteJourneyMap(input: $input) { errors { code } } }"""


def _touchpoints(body: dict) -> list[dict]:  # type: ignore[type-arg]
    return [t for s in body["data"]["journeyMap"]["stages"] for t in s["touchpoints"]]


async def test_a_repeated_read_is_answered_from_the_stamp_alone(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=3)
    variables = {"id": global_id("JourneyMap", world.map_id)}
    # The token's last use is written on its first request: not part of what is counted.
    await gql("{ viewer { user { email } } }", token=tenant_a.token)
    sql_statements.clear()
    first = await gql(MAP, variables, token=tenant_a.token)
    executed = len(sql_statements)
    sql_statements.clear()
    again = await gql(MAP, variables, token=tenant_a.token)
    assert again == first
    # The caller is authenticated and the map's stamp read; nothing else runs.
    stamps = [s for s in sql_statements if "health_generations" in s]
    assert len(stamps) == 1, sql_statements
    assert not [s for s in sql_statements if "FROM touchpoints" in s or "FROM stages" in s]
    assert len(sql_statements) < executed


async def test_every_kind_of_change_shows_in_the_next_read(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    variables = {"id": global_id("JourneyMap", world.map_id)}
    touchpoint = global_id("Touchpoint", world.touchpoint_ids[0])
    before = await gql(MAP, variables, token=tenant_a.token)
    assert _touchpoints(before)[0]["health"] is None

    renamed = await gql(
        RENAME, {"input": {"id": touchpoint, "name": "Renamed"}}, token=tenant_a.token
    )
    assert renamed["data"]["updateTouchpoint"]["errors"] == []
    after_rename = await gql(MAP, variables, token=tenant_a.token)
    assert _touchpoints(after_rename)[0]["name"] == "Renamed"
    assert after_rename["data"]["journeyMap"]["version"] > before["data"]["journeyMap"]["version"]

    pained = await gql(
        ADD_PAIN,
        {"input": {"touchpointId": touchpoint, "title": "Slow", "severity": "HIGH"}},
        token=tenant_a.token,
    )
    assert pained["data"]["addPainPoint"]["errors"] == []
    after_pain = await gql(MAP, variables, token=tenant_a.token)
    assert _touchpoints(after_pain)[0]["painPoints"] == [{"title": "Slow", "severity": "HIGH"}]

    # Health changes without a new map version: the workspace's health generation moves.
    await add_feedback(
        database, world, world.touchpoint_ids[0], value=5, occurred_at=utcnow() - timedelta(days=1)
    )
    done = await gql(
        RECALCULATE, {"input": {"workspaceId": tenant_a.ws_gid(0)}}, token=tenant_a.token
    )
    assert done["data"]["recalculateHealth"]["errors"] == []
    after_pass = await gql(MAP, variables, token=tenant_a.token)
    assert (
        after_pass["data"]["journeyMap"]["version"] == after_pain["data"]["journeyMap"]["version"]
    )
    assert _touchpoints(after_pass)[0]["health"]["sampleSize"] == 1

    deleted = await gql(DELETE, {"input": {"id": variables["id"]}}, token=tenant_a.token)
    assert deleted["data"]["deleteJourneyMap"]["errors"] == []
    assert (await gql(MAP, variables, token=tenant_a.token))["data"]["journeyMap"] is None


async def test_another_tenant_asking_the_same_gets_nothing(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    variables = {"id": global_id("JourneyMap", world.map_id)}
    mine = await gql(MAP, variables, token=tenant_a.token)
    assert mine["data"]["journeyMap"]["id"] == variables["id"]
    theirs = await gql(MAP, variables, token=tenant_b.token)
    assert theirs["data"]["journeyMap"] is None
    anonymous = await gql(MAP, variables, expect_errors=True)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_with_the_cache_off_reads_are_the_same(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    import httpx

    from backend.entrypoints.app import create_app

    world = await build_world(database, tenant_a.workspace_ids[0])
    variables = {"id": global_id("JourneyMap", world.map_id)}
    bodies = []
    for megabytes in (0, 64):
        app = create_app(
            settings.model_copy(update={"map_read_cache_mb": megabytes}), database=database
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            gql = GraphQLClient(http)
            bodies += [await gql(MAP, variables, token=tenant_a.token) for _ in range(2)]
    assert all(body == bodies[0] for body in bodies)
    assert len(_touchpoints(bodies[0])) == 4


@pytest.mark.parametrize(
    "document",
    [
        # Depend on the clock, on other objects, or on feedback rather than the stamp.
        'query { journeyMap(id: "x") { staleness { stale } } }',
        'query { journeyMap(id: "x") { personas { name } } }',
        'query { journeyMap(id: "x") { stages { touchpoints { personaEmotions { persona { name } }'
        " } } } }",
        'query { journeyMap(id: "x") { health { explanation { summary } } } }',
        'query { journeyMap(id: "x") { revisions { edges { node { version } } } } }',
        # More than one map, another root, a mutation, an unknown directive.
        'query { a: journeyMap(id: "x") { id } b: journeyMap(id: "y") { id } }',
        'query { journeyMap(id: "x") { id } viewer { user { email } } }',
        'mutation { journeyMap(id: "x") { id } }',
        'query { journeyMap(id: "x") { id @cached } }',
        'query { journeyMap(id: "x") { ...F } } fragment F on JourneyMap { ...F }',
        "not graphql at all {",
    ],
)
def test_documents_reading_beyond_the_stamp_are_never_cached(document: str) -> None:
    assert plan_for(document, None) is None


def test_fragments_aliases_and_include_are_cacheable() -> None:
    document = """query Read($id: ID!, $deep: Boolean!) { m: journeyMap(id: $id) {
      ...Head stages { ... on Stage { touchpoints @include(if: $deep) { name } } } } }
      fragment Head on JourneyMap { t: title version __typename }"""
    plan = plan_for(document, "Read")
    assert plan is not None
    assert plan.variable == "id"
    map_id = global_id("JourneyMap", "5cd0b538-de9a-46b2-a1d0-152ce83b8529")
    assert str(plan.map_id({"id": map_id})) == "5cd0b538-de9a-46b2-a1d0-152ce83b8529"
    assert plan.map_id({"id": global_id("Stage", "5cd0b538-de9a-46b2-a1d0-152ce83b8529")}) is None


def _named(kind: GraphQLType) -> GraphQLType:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def test_the_allowlist_matches_the_schema() -> None:
    """Every cacheable field exists, takes no arguments and leads where the list says."""
    schema = build_schema(Settings())._schema
    root = schema.query_type.fields[ROOT_FIELD]  # type: ignore[union-attr]
    assert _named(root.type).name == ROOT_TYPE  # type: ignore[attr-defined]
    for type_name, fields in CACHEABLE.items():
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        for field_name, child in fields.items():
            field = graphql_type.fields.get(field_name)
            assert field is not None, f"{type_name}.{field_name}"
            assert not field.args, f"{type_name}.{field_name} takes arguments"
            target = _named(field.type)
            if child is None:
                assert not isinstance(target, GraphQLObjectType), f"{type_name}.{field_name}"
            else:
                assert target.name == child, f"{type_name}.{field_name}"  # type: ignore[attr-defined]
