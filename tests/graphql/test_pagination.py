"""Connections page both ways, as Relay clients (Apollo, urql) page them: `first`/`after`
forward, `last`/`before` backward, the same items either way, every connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from graphql import get_named_type

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.models import Feedback, Persona, Workspace, WorkspaceMembership
from backend.settings import Settings
from backend.tenancy import service
from backend.vocabulary.feedback import FeedbackSource, SentimentStatus
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.schema import build_schema
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

PAGE = """totalCount edges { cursor node { id } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"""
ARGUMENTS = "first: $first, after: $after, last: $last, before: $before"
VARIABLES = "$first: Int, $after: String, $last: Int, $before: String"
PERSONAS = f"""query({VARIABLES}, $ws: ID!) {{ workspace(id: $ws) {{
  list: personas({ARGUMENTS}) {{ {PAGE} }} }} }}"""
FEEDBACK = f"""query({VARIABLES}, $ws: ID!) {{ workspace(id: $ws) {{
  list: feedback({ARGUMENTS}) {{ {PAGE} }} }} }}"""
ORGANIZATION_WORKSPACES = f"""query({VARIABLES}) {{ viewer {{ organizations {{ edges {{ node {{
  list: workspaces({ARGUMENTS}) {{ {PAGE} }} }} }} }} }} }}"""
MEMBERS = f"""query({VARIABLES}, $ws: ID!) {{ workspace(id: $ws) {{
  list: members({ARGUMENTS}) {{ {PAGE} }} }} }}"""
REVISIONS = f"""query({VARIABLES}, $map: ID!) {{ journeyMap(id: $map) {{
  list: revisions({ARGUMENTS}) {{ totalCount edges {{ cursor node {{ id: version }} }}
  pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"""


def _connection(data: dict[str, Any]) -> dict[str, Any]:
    """The one connection aliased ``list`` in an answer, however deep."""
    for value in data.values():
        if isinstance(value, dict):
            if "list" in value:
                return dict(value["list"])
            return _connection(value)
        if isinstance(value, list) and value:
            return _connection(value[0])
    raise AssertionError(f"no connection in {data}")


async def _page(
    gql: GraphQLClient, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    connection = _connection((await gql(query, variables, token=token))["data"])
    edges, info = connection["edges"], connection["pageInfo"]
    cursors = [e["cursor"] for e in edges]
    assert info["startCursor"] == (cursors[0] if cursors else None)
    assert info["endCursor"] == (cursors[-1] if cursors else None)
    return connection


async def _walk(
    gql: GraphQLClient,
    query: str,
    variables: dict[str, Any],
    token: str,
    size: int,
    *,
    backward: bool,
) -> list[Any]:
    """Every item, page by page from one end, in the list's order."""
    items: list[Any] = []
    cursor = None
    for _ in range(50):
        asked = {**variables, **({"last": size, "before": cursor} if backward else {})}
        if not backward:
            asked |= {"first": size, "after": cursor}
        page = await _page(gql, query, asked, token)
        found = [e["node"]["id"] for e in page["edges"]]
        assert len(found) <= size
        info = page["pageInfo"]
        if backward:
            # Reading backward, the page says whether more lie before it; after it is
            # where the walk came from.
            assert info["hasNextPage"] is False
            items = found + items
            more, cursor = info["hasPreviousPage"], info["startCursor"]
        else:
            assert info["hasPreviousPage"] is False
            items += found
            more, cursor = info["hasNextPage"], info["endCursor"]
        assert page["totalCount"] >= len(items)
        if not more:
            return items
    raise AssertionError("the walk never ended")


async def _walks_agree(
    gql: GraphQLClient, query: str, variables: dict[str, Any], token: str, count: int
) -> list[Any]:
    whole = await _page(gql, query, {**variables, "first": 100}, token)
    everything = [e["node"]["id"] for e in whole["edges"]]
    assert len(everything) == len(set(everything)) == whole["totalCount"] == count
    for size in (1, 2, 3, count, count + 1):
        forward = await _walk(gql, query, variables, token, size, backward=False)
        backward = await _walk(gql, query, variables, token, size, backward=True)
        assert forward == everything, size
        assert backward == everything, size
    return everything


async def _personas(database: Database, tenant: Tenant, count: int) -> None:
    async with database.transaction(tenant.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        for n in range(count):
            session.add(Persona(workspace_id=tenant.workspace_ids[0], name=f"Persona {n:02}"))


async def test_personas_walked_backward_are_the_same_as_forward(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    await _personas(database, tenant_a, 7)
    names = await _walks_agree(gql, PERSONAS, {"ws": tenant_a.ws_gid(0)}, tenant_a.token, 7)
    assert len(names) == 7


async def test_feedback_newest_first_walks_both_ways_through_ties(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    """Feedback received in one transaction shares its receivedAt: the id breaks the tie,
    the same way whichever end the walk starts from."""
    now = datetime.now(UTC)
    for batch in range(2):
        async with database.transaction(tenant_a.binding(), write=True) as session:
            for n in range(4):
                session.add(
                    Feedback(
                        workspace_id=tenant_a.workspace_ids[0],
                        source=FeedbackSource.SURVEY,
                        external_id=f"r-{batch}-{n}-{uuid4()}",
                        text=f"said {batch}.{n}",
                        sentiment_status=SentimentStatus.UNSCORED,
                        occurred_at=now - timedelta(hours=n),
                    )
                )
    await _walks_agree(gql, FEEDBACK, {"ws": tenant_a.ws_gid(0)}, tenant_a.token, 8)


async def test_nested_pages_of_workspaces_and_members_walk_both_ways(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    """Connections under many parents (one statement for all of them) page backward too."""
    async with database.transaction(NO_TENANT, write=True) as session:
        for n in range(4):
            session.add(Workspace(organization_id=tenant_a.organization_id, name=f"More {n}"))
    await _walks_agree(gql, ORGANIZATION_WORKSPACES, {}, tenant_a.token, 6)
    workspace = tenant_a.workspace_ids[0]
    async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as session:
        bind_actor(session, Actor.system())
        for n in range(5):
            user = await service.user_for_email(session, f"member{n}@alpha.example")
            session.add(
                WorkspaceMembership(
                    workspace_id=workspace, user_id=user.id, role=WorkspaceRole.VIEWER
                )
            )
    await _walks_agree(gql, MEMBERS, {"ws": tenant_a.ws_gid(0)}, tenant_a.token, 5)


async def test_revisions_newest_first_walk_both_ways(gql: GraphQLClient, tenant_a: Tenant) -> None:
    created = await gql(
        """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
          journeyMap { id } errors { code } } }""",
        {"input": {"workspaceId": tenant_a.ws_gid(0), "title": "Onboarding"}},
        token=tenant_a.token,
    )
    map_id = created["data"]["createJourneyMap"]["journeyMap"]["id"]
    for n in range(4):
        await gql(
            """mutation($input: UpdateJourneyMapInput!) { updateJourneyMap(input: $input) {
              errors { code } } }""",
            {"input": {"id": map_id, "title": f"Onboarding {n}"}},
            token=tenant_a.token,
        )
    versions = await _walks_agree(gql, REVISIONS, {"map": map_id}, tenant_a.token, 5)
    assert versions == [5, 4, 3, 2, 1]


async def test_both_cursors_bound_a_page_either_way(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    """`after` and `before` together: the items between them; `first` counts from the
    start of that window, `last` from its end, and `before` alone reads backward."""
    await _personas(database, tenant_a, 7)
    ws = {"ws": tenant_a.ws_gid(0)}
    whole = await _page(gql, PERSONAS, ws, tenant_a.token)
    ids = [e["node"]["id"] for e in whole["edges"]]
    cursors = [e["cursor"] for e in whole["edges"]]

    async def ids_of(**asked: Any) -> tuple[list[str], dict[str, Any]]:
        page = await _page(gql, PERSONAS, {**ws, **asked}, tenant_a.token)
        return [e["node"]["id"] for e in page["edges"]], page["pageInfo"]

    window = {"after": cursors[1], "before": cursors[5]}
    assert (await ids_of(**window))[0] == ids[2:5]
    assert await ids_of(**window, first=2) == (
        ids[2:4],
        {
            "hasNextPage": True,
            "hasPreviousPage": False,
            "startCursor": cursors[2],
            "endCursor": cursors[3],
        },
    )
    assert await ids_of(**window, last=2) == (
        ids[3:5],
        {
            "hasNextPage": False,
            "hasPreviousPage": True,
            "startCursor": cursors[3],
            "endCursor": cursors[4],
        },
    )
    assert (await ids_of(before=cursors[3]))[0] == ids[:3]
    assert (await ids_of(last=2))[0] == ids[5:]
    assert (await ids_of(last=0))[0] == []
    assert whole["pageInfo"]["hasPreviousPage"] is False


async def test_first_and_last_together_are_refused_on_last(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    body = await gql(
        PERSONAS,
        {"ws": tenant_a.ws_gid(0), "first": 2, "last": 2},
        token=tenant_a.token,
        expect_errors=True,
    )
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "last"}
    assert error["message"] == "Give first or last, not both."
    assert error["path"] == ["workspace", "list"]
    assert error["locations"]


async def test_a_before_that_is_no_cursor_is_refused_on_before(
    gql: GraphQLClient, tenant_a: Tenant
) -> None:
    body = await gql(
        PERSONAS,
        {"ws": tenant_a.ws_gid(0), "last": 2, "before": "not a cursor"},
        token=tenant_a.token,
        expect_errors=True,
    )
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "before"}


@pytest.mark.parametrize("size", [-1, 101])
async def test_last_has_the_limits_of_first(
    gql: GraphQLClient, tenant_a: Tenant, size: int
) -> None:
    body = await gql(
        PERSONAS,
        {"ws": tenant_a.ws_gid(0), "last": size},
        token=tenant_a.token,
        expect_errors=True,
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "page_size"
    assert "argument `last`" in error["message"]


def test_every_connection_takes_last_and_before(settings: Settings) -> None:
    schema = build_schema(settings)._schema
    connections = []
    for type_ in schema.type_map.values():
        for name, field in getattr(type_, "fields", {}).items():
            target = get_named_type(field.type)
            if {"edges", "pageInfo"} <= set(getattr(target, "fields", {})):
                connections.append(f"{type_.name}.{name}")
                assert {"first", "after", "last", "before"} <= set(field.args), name
    assert len(connections) == 19, connections
