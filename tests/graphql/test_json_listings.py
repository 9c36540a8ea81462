"""A workspace's pages (journeyMaps, feedback) that Postgres writes whole, as JSON: every
edge, cursor, total and page info the ordinary engine's resolvers give, page after page,
for every argument the writer takes; the rest (and SQLite) left to the resolvers; and
nothing of another workspace, whatever the arguments say."""

from __future__ import annotations

import base64
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.pagination import _encode
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.models import Feedback, JourneyMap
from backend.settings import Settings
from backend.vocabulary.feedback import FeedbackSource, SentimentStatus
from backend.vocabulary.journeys import MapStatus, Scenario
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema import engine, json_fields, json_plans
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.graphql import global_id
from tests.fixtures.planned import answer, is_written, ordinary_and_planned, without_request_ids
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import build_world

postgres_only = pytest.mark.skipif(not is_postgres_run(), reason="Postgres writes the JSON")

PAGE_INFO = "pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }"
MAPS = (
    "query Maps($id: ID!, $first: Int, $after: String, $order: JourneyMapOrder! = TITLE,"
    " $status: JourneyMapStatus, $scenario: JourneyScenario) {"
    " workspace(id: $id) { __typename name health { score }"
    " all: journeyMaps(first: $first, after: $after, orderBy: $order, status: $status,"
    " scenario: $scenario) { __typename totalCount"
    " edges { __typename cursor node { id title status scenario updatedAt health { score } } }"
    f" {PAGE_INFO} }} }} }}"
)
FEEDBACK = (
    "query Items($id: ID!, $first: Int, $after: String, $touchpoint: ID,"
    " $source: FeedbackSource) { workspace(id: $id) { feedback(first: $first, after: $after,"
    " touchpointId: $touchpoint, source: $source) { totalCount"
    " edges { cursor node { id source text receivedAt touchpoint { name } } }"
    f" {PAGE_INFO} }} }} }}"
)
# Titles whose cursors test the escaping: quotes, backslashes, control characters,
# letters beyond ASCII, a pair of surrogates in UTF-16, and ties broken by id.
TITLES = ['Say "hi"', "back\\slash", "tab\there\nnewline", "Ünïcödé ✓", "rocket 🚀", "Same", "Same"]


async def _maps(database: Database, workspace_id: UUID) -> list[UUID]:
    """Maps with the titles above, every status and scenario, updated at distinct
    moments but two, and one deleted map that no page shows."""
    now = datetime.now(UTC)
    statuses, scenarios = list(MapStatus), list(Scenario)
    ids = []
    async with database.transaction(
        TenantBinding(frozenset({workspace_id})), write=True
    ) as session:
        bind_actor(session, Actor.system())
        for n, title in enumerate([*TITLES, "Deleted"]):
            journey_map = JourneyMap(
                workspace_id=workspace_id,
                title=title,
                status=statuses[n % len(statuses)],
                scenario=scenarios[n % len(scenarios)],
            )
            session.add(journey_map)
            await session.flush()
            moment = now - timedelta(minutes=min(n, 4), microseconds=0 if n % 2 else 1)
            journey_map.updated_at = moment.replace(microsecond=0) if n == 3 else moment
            if title == "Deleted":
                journey_map.deleted_at = now
            ids.append(journey_map.id)
    return ids


async def _walk(
    clients: dict[bool, httpx.AsyncClient],
    query: str,
    variables: dict[str, Any],
    token: str,
    connection: str,
    statements: list[str],
) -> int:
    """Every page, both engines, each page the same bytes, Postgres writing the planned
    engine's in one statement; the number of pages."""
    after = None
    for pages in itertools.count(1):
        asked = {**variables, "after": after}
        ordinary = await answer(clients[False], query, asked, token)
        statements.clear()
        planned = await answer(clients[True], query, asked, token)
        assert planned == ordinary, (asked, ordinary, planned)
        assert len([s for s in statements if " AS _n " in s]) == 1, asked
        page = json.loads(planned)["data"]["workspace"][connection]
        if not page["pageInfo"]["hasNextPage"] or pages > 12:
            return pages
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("unreachable")


@postgres_only
async def test_pages_of_maps_are_written_as_the_resolver_pages_them(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    workspace = tenant_a.workspace_ids[0]
    await _maps(database, workspace)
    await build_world(database, workspace)  # a scored map among them
    variables = {"id": tenant_a.ws_gid(0)}
    walked = []
    async with ordinary_and_planned(settings, database) as clients:
        for order, status, scenario, first in itertools.product(
            [None, "TITLE", "UPDATED_AT"],
            [None, "ACTIVE"],
            [None, "CURRENT_STATE"],
            [None, 0, 1, 3],
        ):
            asked = {**variables, "status": status, "scenario": scenario, "first": first}
            if order is not None:  # else the argument's default
                asked["order"] = order
            walked.append(await _walk(clients, MAPS, asked, tenant_a.token, "all", sql_statements))
        # The whole list by title: the deleted map left out, ties by id.
        everything = await answer(clients[True], MAPS, {**variables, "first": 100}, tenant_a.token)
    assert max(walked) >= 8  # first: 1 went through every map
    titles = [
        e["node"]["title"] for e in json.loads(everything)["data"]["workspace"]["all"]["edges"]
    ]
    assert sorted(titles) == sorted([*TITLES, "Journey"])  # the deleted map left out


@postgres_only
async def test_a_cursor_made_before_is_still_understood(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """Cursors once escaped every letter beyond ASCII (json.dumps' default); such a cursor
    a client kept still pages on, on both engines, to the same next page."""
    workspace = tenant_a.workspace_ids[0]
    ids = await _maps(database, workspace)
    unicode_map = ids[TITLES.index("Ünïcödé ✓")]
    old = json.dumps(["Ünïcödé ✓", str(unicode_map)])  # ensure_ascii, as before
    assert "\\u" in old
    old_cursor = base64.urlsafe_b64encode(old.encode()).decode().rstrip("=")
    new_cursor = _encode(["Ünïcödé ✓", unicode_map])
    assert old_cursor != new_cursor
    async with ordinary_and_planned(settings, database) as clients:
        answers = set()
        for planned, cursor in itertools.product((False, True), (old_cursor, new_cursor)):
            asked = {"id": tenant_a.ws_gid(0), "first": 2, "after": cursor}
            answers.add(await answer(clients[planned], MAPS, asked, tenant_a.token))
        whole = await answer(clients[True], MAPS, {"id": tenant_a.ws_gid(0)}, tenant_a.token)
    assert len(answers) == 1
    (after,) = answers
    titles = [e["node"]["title"] for e in json.loads(whole)["data"]["workspace"]["all"]["edges"]]
    following = titles[titles.index("Ünïcödé ✓") + 1 :][:2]
    edges = json.loads(after)["data"]["workspace"]["all"]["edges"]
    assert [e["node"]["title"] for e in edges] == following


@postgres_only
async def test_a_page_the_writer_does_not_take_is_answered_by_the_resolver(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    """A page too large, a cursor that is not one, a search: the same errors and pages,
    and no page written by Postgres (the maps on it may be)."""
    await _maps(database, tenant_a.workspace_ids[0])
    search = MAPS.replace("scenario: $scenario)", 'scenario: $scenario, search: "Same")')
    cases = [(MAPS, {"first": 101}), (MAPS, {"after": "not a cursor"}), (search, {})]
    async with ordinary_and_planned(settings, database) as clients:
        for query, extra in cases:
            asked = {"id": tenant_a.ws_gid(0), **extra}
            ordinary = await answer(clients[False], query, asked, tenant_a.token)
            sql_statements.clear()
            planned = await answer(clients[True], query, asked, tenant_a.token)
            assert not [s for s in sql_statements if " AS _n " in s], extra
            assert without_request_ids(planned) == without_request_ids(ordinary)
    assert "Must be between 0 and 100" in ordinary or "Same" in ordinary


BACKWARD = (
    "query Back($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {"
    " workspace(id: $id) { name maps: journeyMaps(first: $first, after: $after, last: $last,"
    " before: $before) { totalCount edges { cursor node { id title } } "
    f"{PAGE_INFO} }} items: feedback(last: $last) {{ totalCount"
    f" edges {{ cursor node {{ id text }} }} {PAGE_INFO} }} }} }}"
)


@postgres_only
async def test_pages_read_backward_are_answered_by_the_resolvers_alike(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    """The writer pages forward only: `last` and `before` leave a page to the resolvers
    (no statement writes it), with the same bytes on both engines, page after page; a
    forward page in the same document is still answered the same."""
    await _maps(database, tenant_a.workspace_ids[0])
    await _items(database, tenant_a)
    variables: dict[str, Any] = {"id": tenant_a.ws_gid(0)}
    async with ordinary_and_planned(settings, database) as clients:
        for asked in ({"first": 3}, {"first": 3, "last": 3}, {"before": "not a cursor"}):
            sql_statements.clear()
            planned = await answer(clients[True], BACKWARD, {**variables, **asked}, tenant_a.token)
            ordinary = await answer(
                clients[False], BACKWARD, {**variables, **asked}, tenant_a.token
            )
            assert without_request_ids(planned) == without_request_ids(ordinary), asked
        before, pages = None, 0
        while pages < 10:
            pages += 1
            asked = {**variables, "last": 2, "before": before}
            ordinary = await answer(clients[False], BACKWARD, asked, tenant_a.token)
            sql_statements.clear()
            for _ in range(2):  # the token unknown, then known (written queries)
                planned = await answer(clients[True], BACKWARD, asked, tenant_a.token)
                assert planned == ordinary, asked
            assert not [s for s in sql_statements if " AS _n " in s], asked
            maps = json.loads(planned)["data"]["workspace"]["maps"]
            if not maps["pageInfo"]["hasPreviousPage"]:
                break
            before = maps["pageInfo"]["startCursor"]
    assert pages == 4  # seven live maps, two a page


async def _items(database: Database, tenant: Tenant) -> tuple[Any, Any]:
    """Feedback from every source in A's first workspace, most in one transaction (the
    same receivedAt, ties by id); a touchpoint of its second workspace."""
    here = await build_world(database, tenant.workspace_ids[0])
    there = await build_world(database, tenant.workspace_ids[1])
    now = datetime.now(UTC)
    for batch in range(2):
        async with database.transaction(here.binding(), write=True) as session:
            for n, source in enumerate(list(FeedbackSource) * 2):
                touchpoint = here.touchpoint_ids[n % len(here.touchpoint_ids)]
                session.add(
                    Feedback(
                        workspace_id=here.workspace_id,
                        source=source,
                        external_id=f"item-{batch}-{n}-{uuid4()}",
                        journey_map_id=here.map_id,
                        stage_id=here.stage_of[touchpoint],
                        touchpoint_id=touchpoint if n % 3 else None,
                        text=f"said {batch}.{n}",
                        sentiment_status=SentimentStatus.UNSCORED,
                        occurred_at=now - timedelta(hours=n),
                    )
                )
    return here, there


@postgres_only
async def test_pages_of_feedback_are_written_as_the_resolver_pages_them(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    here, there = await _items(database, tenant_a)
    touchpoints = [
        None,
        global_id("Touchpoint", here.touchpoint_ids[1]),
        global_id("Touchpoint", there.touchpoint_ids[0]),  # another workspace's: none
    ]
    async with ordinary_and_planned(settings, database) as clients:
        for touchpoint, source, first in itertools.product(
            touchpoints, [None, "SURVEY", "OTHER"], [None, 2, 5]
        ):
            asked = {"id": tenant_a.ws_gid(0), "touchpoint": touchpoint, "source": source}
            await _walk(
                clients,
                FEEDBACK,
                {**asked, "first": first},
                tenant_a.token,
                "feedback",
                sql_statements,
            )
        # An id of another type is the resolver's empty page, not Postgres'.
        asked = {"id": tenant_a.ws_gid(0), "touchpoint": global_id("JourneyMap", here.map_id)}
        ordinary = await answer(clients[False], FEEDBACK, asked, tenant_a.token)
        written = engine.COUNTS["written by postgres"]
        assert await answer(clients[True], FEEDBACK, asked, tenant_a.token) == ordinary
        assert engine.COUNTS["written by postgres"] == written
    assert json.loads(ordinary)["data"]["workspace"]["feedback"]["totalCount"] == 0


@postgres_only
async def test_a_dashboard_is_one_statement_whatever_the_number_of_maps(
    settings: Settings, database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    counts = []
    async with ordinary_and_planned(settings, database) as clients:
        for maps in (1, 6):
            while len(await _map_ids(database, tenant_a.workspace_ids[0])) < maps:
                await build_world(database, tenant_a.workspace_ids[0])
            variables = {"id": tenant_a.ws_gid(0), "first": 20, "order": "UPDATED_AT"}
            await answer(clients[True], MAPS, variables, tenant_a.token)  # the token known
            sql_statements.clear()
            await answer(clients[True], MAPS, variables, tenant_a.token)
            counts.append(len(sql_statements))
            writes = [s for s in sql_statements if is_written(s)]
            assert len(writes) == 1, sql_statements
    assert counts[0] == counts[1], counts


async def _map_ids(database: Database, workspace_id: UUID) -> list[UUID]:
    async with database.connection(TenantBinding(frozenset({workspace_id}))) as connection:
        found = await connection.execute(
            text("select id from journey_maps where workspace_id = :w"), {"w": workspace_id}
        )
        return [row[0] for row in found]


@postgres_only
async def test_a_guest_and_another_organizations_admin_page_nothing_of_a_workspace(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """A guest of A's first workspace asks for its feedback by a touchpoint of A's second
    workspace, and for the second workspace's pages; B's admin for both workspaces'."""
    _, there = await _items(database, tenant_a)
    async with database.transaction(there.binding(), write=True) as session:
        session.add(
            Feedback(
                workspace_id=there.workspace_id,
                source=FeedbackSource.SURVEY,
                external_id="secret",
                touchpoint_id=there.touchpoint_ids[0],
                text="Secret",
                sentiment_status=SentimentStatus.UNSCORED,
                occurred_at=datetime.now(UTC),
            )
        )
    _, guest = await add_guest(
        database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.VIEWER
    )
    secret_touchpoint = global_id("Touchpoint", there.touchpoint_ids[0])
    async with ordinary_and_planned(settings, database) as clients:
        own = await answer(
            clients[True], FEEDBACK, {"id": tenant_a.ws_gid(1), "first": 100}, tenant_a.token
        )
        assert "Secret" in own  # the owner reads it: the probe can see
        for _ in range(2):  # an unknown token, then a known one
            crossed = await answer(
                clients[True],
                FEEDBACK,
                {"id": tenant_a.ws_gid(0), "touchpoint": secret_touchpoint, "first": 100},
                guest,
            )
            page = json.loads(crossed)["data"]["workspace"]["feedback"]
            assert page["totalCount"] == 0, crossed
            assert page["edges"] == [], crossed
            for token, index in ((guest, 1), (tenant_b.token, 0), (tenant_b.token, 1)):
                for query in (FEEDBACK, MAPS):
                    other = await answer(
                        clients[True], query, {"id": tenant_a.ws_gid(index)}, token
                    )
                    assert json.loads(other) == {"data": {"workspace": None}}, other


@pytest.mark.parametrize("backward", [{"last": 2}, {"before": _encode(["x", uuid4()])}])
@pytest.mark.parametrize("listing", ["journeyMaps", "feedback", "auditEvents"])
def test_no_page_read_backward_is_written(listing: str, backward: dict[str, Any]) -> None:
    class Field:
        def __init__(self, name: str, child: Any = None, arguments: Any = None) -> None:
            self.key = self.name = name
            self.child, self.arguments, self.constant = child, arguments, None

    class Object:
        def __init__(self, type_name: str, *fields: Field) -> None:
            self.type_name, self.fields = type_name, list(fields)

    connection = Object("Connection", Field("totalCount"))
    forward = Object("Workspace", Field(listing, connection, {"first": 2}))
    assert json_plans.statement(forward, scoped=True)  # written, when read forward
    asked = Object("Workspace", Field(listing, connection, {"first": None, **backward}))
    with pytest.raises(json_fields.NotWritable):
        json_plans.statement(asked, scoped=True)


def test_every_row_of_a_page_is_filtered_by_its_workspace() -> None:
    """The workspace by the caller's workspaces; each page's rows and totals, and every
    row reached from them, by the workspace they are reached from; the trail only where
    the caller is ADMIN; people (no workspace's rows) only the caller and those who share
    a workspace with them."""

    class Field:
        def __init__(self, name: str, child: Any = None, arguments: Any = None) -> None:
            self.key = self.name = name
            self.child, self.arguments, self.constant = child, arguments, None

    class Object:
        def __init__(self, type_name: str, *fields: Field) -> None:
            self.type_name, self.fields = type_name, list(fields)

    def page(node: Object, arguments: dict[str, Any]) -> Object:
        edge = Object("Edge", Field("cursor"), Field("node", node))
        info = Object("PageInfo", Field("endCursor"))
        return Object(
            "Connection", Field("totalCount"), Field("edges", edge), Field("pageInfo", info)
        )

    health = Object("HealthScore", Field("score"))
    touchpoint = Object("Touchpoint", Field("name"), Field("health", health))
    item = Object("Feedback", Field("text"), Field("touchpoint", touchpoint))
    journey_map = Object("JourneyMap", Field("title"), Field("health", health))
    user = Object("User", Field("email"))
    event = Object(
        "AuditEvent", Field("action"), Field("actor", Object("AuditActor", Field("user", user)))
    )
    plan = Object(
        "Workspace",
        Field("name"),
        Field("health", health),
        Field("journeyMaps", page(journey_map, {"orderBy": "UPDATED_AT"}), {"first": 5}),
        Field("feedback", page(item, {}), {"source": "SURVEY", "touchpointId": None}),
        Field("auditEvents", page(event, {}), {"first": 3}),
    )
    caller = json_plans.Caller(uuid4(), frozenset({uuid4()}))
    written = json_plans.statement(plan, scoped=True, caller=caller)
    sql = written.sql
    assert written.parameters == ("SURVEY", caller.user_id, sorted(caller.administered))
    assert re.search(r"CASE WHEN t0\.id = ANY\(\$5::uuid\[\]\) THEN \(SELECT", sql)
    people = re.findall(r"FROM users (t\d+)\b", sql)
    assert len(people) == 1
    (person,) = people
    assert (
        f"({person}.id = $4::uuid OR EXISTS (SELECT 1 FROM workspace_memberships {person}m"
        f" WHERE {person}m.user_id = {person}.id AND {person}m.workspace_id = ANY($2::uuid[])))"
    ) in sql
    assert "t0.id = ANY($2::uuid[])" in sql
    tables = re.findall(r"FROM (\w+) (t\d+)\b", sql)
    assert {table for table, _ in tables} == {
        "workspaces",
        "health_scores",
        "journey_maps",
        "feedback",
        "touchpoints",
        "audit_events",
        "users",
    }
    for table, alias in tables:
        if alias != "t0" and table != "users":
            assert re.search(rf"\b{alias}\.workspace_id = t\d+\.(workspace_id|id)\b", sql), alias


@postgres_only
@hypothesis_settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
async def test_a_cursor_is_written_as_python_encodes_it(
    database: Database, title: str, moment: datetime
) -> None:
    """Any title a map may have, any moment: Postgres' cursor is ``pagination._encode``'s."""
    row_id = uuid4()
    by_title = json_fields.cursor("x", (JourneyMap.title, JourneyMap.id))
    by_moment = json_fields.cursor("x", (JourneyMap.updated_at, JourneyMap.id))
    statement = text(
        f"select {by_title}, {by_moment} from (select cast(:title as text) as title,"
        " cast(:id as uuid) as id, cast(:moment as timestamptz) as updated_at) as x"
    )
    async with database.connection(NO_TENANT) as connection:
        found = await connection.execute(
            statement, {"title": title, "id": row_id, "moment": moment}
        )
        written_title, written_moment = found.one()
    assert written_title == _encode([title, row_id])
    assert written_moment == _encode([moment, row_id])


AUDIT = (
    "query Trail($id: ID!, $first: Int, $after: String) { workspace(id: $id) {"
    " auditEvents(first: $first, after: $after) { __typename totalCount edges { cursor node {"
    " sequence occurredAt action subjectType subjectId changes requestId ip userAgent"
    " prevHash hash actor { __typename type tokenId user { __typename id name email } } } }"
    f" {PAGE_INFO} }} }} }}"
)
CREATE_MAP = """mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) {
  journeyMap { id } errors { code } } }"""


@postgres_only
async def test_a_trail_is_written_as_the_resolver_pages_it_for_whoever_may_read_it(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    tenant_b: Tenant,
    sql_statements: list[str],
) -> None:
    """Events by the owner, by an editor since removed (a person no longer visible), by
    the system; read by the owner, by a guest ADMIN of the workspace (who sees the
    editor only while they share it), by a guest VIEWER (no trail) and by another
    organization's admin (no workspace): the same bytes on both engines."""
    workspace = tenant_a.workspace_ids[0]
    await build_world(database, workspace)  # the system's events
    editor_id, editor = await add_guest(
        database, workspace, "ed@alpha.example", WorkspaceRole.EDITOR
    )
    _, admin = await add_guest(database, workspace, "ad@alpha.example", WorkspaceRole.ADMIN)
    _, viewer = await add_guest(database, workspace, "vi@alpha.example", WorkspaceRole.VIEWER)
    async with ordinary_and_planned(settings, database) as clients:
        for n, token in enumerate([tenant_a.token, editor, tenant_a.token, editor]):
            made = await answer(
                clients[True],
                CREATE_MAP,
                {"input": {"workspaceId": tenant_a.ws_gid(0), "title": f'Map {n} ✓ "q"'}},
                token,
            )
            assert '"errors": []' in made, made

        async def compare(readers: list[str]) -> list[Any]:
            pages = []
            for token in readers:
                for first in (None, 3):
                    asked = {"id": tenant_a.ws_gid(0), "first": first}
                    ordinary = await answer(clients[False], AUDIT, asked, token)
                    sql_statements.clear()
                    planned = await answer(clients[True], AUDIT, asked, token)
                    assert planned == ordinary, (token, first)
                    trail = json.loads(planned)["data"]["workspace"]
                    pages.append(trail and trail["auditEvents"])
                    if trail and trail["auditEvents"]:
                        assert [s for s in sql_statements if " AS _n " in s], first
                        end = trail["auditEvents"]["pageInfo"]["endCursor"]
                        asked["after"] = end
                        assert await answer(clients[True], AUDIT, asked, token) == await answer(
                            clients[False], AUDIT, asked, token
                        )
            return pages

        shared = await compare([tenant_a.token, admin])
        # The editor leaves: their events stay, their person is no longer shown.
        async with database.transaction(TenantBinding(frozenset({workspace})), write=True) as s:
            await s.execute(
                text("delete from workspace_memberships where user_id = :u"), {"u": editor_id}
            )
        left = await compare([tenant_a.token, admin])
        nothing = await compare([viewer, tenant_b.token])
    assert all(page is None for page in nothing)
    users = [e["node"]["actor"]["user"] for page in shared[:1] for e in page["edges"] if page]
    assert {u["email"] for u in users if u} >= {"ed@alpha.example"}
    later = [e["node"]["actor"]["user"] for e in left[0]["edges"]]
    assert "ed@alpha.example" not in json.dumps(later)
    assert any(e["node"]["actor"]["tokenId"] for e in left[0]["edges"])
