"""Tenant isolation through the API, as an attacker would try it.

The promise: with two seeded tenants, every query, mutation, node(id), nested field
and filter made as one against the other's ids answers NOT_FOUND and changes nothing;
on Postgres the same suite passes with application scoping switched off (RLS alone
holds).

Conventions checked here: a query answers ``null`` for an object the caller cannot
see, exactly as for an id that does not exist; a mutation answers a payload with one
``{code: NOT_FOUND, field: "input.<field>"}`` error and a null object; never a
top-level error (``GraphQLClient`` fails on those). "Changes nothing" is checked on
every row of every table, read as a superuser (behind scoping and RLS) before and
after each attempt.

Every test runs twice on Postgres: against the normal app, and against an app whose
Database has application scoping switched off, so that row-level security stands
alone. On SQLite there is no RLS, so that second mode is skipped.

Each test gets a fresh app; the world (the rows) serves the next test too when this
one left every row as it found it, for a while (see ``Worlds``): most tests here are
refused attacks, which must change nothing anyway.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.last_use import RESOLUTION as LAST_USED_RESOLUTION
from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.models import ApiToken, Base, WorkspaceMembership
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.relay import decode_global_id
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, is_postgres_run, truncate_all
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest, seed_tenant

# --------------------------------------------------------------------------- two modes

APP_SCOPING = "app-scoping"
RLS_ONLY = "rls-only"

MODES = [
    pytest.param(APP_SCOPING, id=APP_SCOPING),
    pytest.param(
        RLS_ONLY,
        id=RLS_ONLY,
        marks=pytest.mark.skipif(
            not is_postgres_run(),
            reason="row-level security exists only on Postgres; on SQLite application "
            "scoping is the only wall, so there is nothing to test with it switched off",
        ),
    ),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rls_only_database(test_database: TestDatabase) -> AsyncIterator[Database]:
    """The app's own role with application scoping switched off: only RLS stands."""
    db = make_database(test_database, app_scoping=False)
    yield db
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def rls_only_gql(
    settings: Settings, rls_only_database: Database
) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, database=rls_only_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    assert isinstance(request.param, str)
    return request.param


@pytest.fixture
def api(request: pytest.FixtureRequest, mode: str) -> GraphQLClient:
    """The API under attack: the normal app, or (Postgres only) one with RLS alone."""
    client = request.getfixturevalue("gql" if mode == APP_SCOPING else "rls_only_gql")
    assert isinstance(client, GraphQLClient)
    return client


# --------------------------------------------------------------------------- documents

# Asks for everything a Node can show, so a leak anywhere in the tree would show.
EVERYTHING = """
fragment Everything on Node {
  __typename
  id
  ... on Organization {
    slug name kind orgRole: viewerRole
    workspaces { totalCount edges { node { id name } } }
  }
  ... on Workspace {
    name viewerRole organization { id slug }
    members { totalCount edges { node { id role user { id email } } } }
  }
  ... on WorkspaceMember { role user { id email } workspace { id name } }
  ... on ApiToken { name prefix revokedAt limitedTo: workspace { id name } }
  ... on User { email name }
}
"""

ERRORS = "errors { code message field }"


@dataclass(frozen=True)
class Operation:
    """One root field, called with a single variable ``$target``."""

    field: str
    document: str
    # For mutations: the input field a NOT_FOUND must point at.
    error_field: str | None = None

    def __str__(self) -> str:
        return self.field


NODE = Operation("node", "query($target: ID!) { node(id: $target) { ...Everything } }")
WORKSPACE = Operation(
    "workspace", "query($target: ID!) { workspace(id: $target) { ...Everything } }"
)
ORGANIZATION = Operation(
    "organization",
    "query($target: String!) { organization(slug: $target) { ...Everything } }",
)
CREATE_WORKSPACE = Operation(
    "createWorkspace",
    f"""mutation($target: ID!) {{
      createWorkspace(input: {{organizationId: $target, name: "Planted"}}) {{
        workspace {{ ...Everything }} {ERRORS}
      }}
    }}""",
    error_field="input.organizationId",
)
ADD_WORKSPACE_MEMBER = Operation(
    "addWorkspaceMember",
    f"""mutation($target: ID!) {{
      addWorkspaceMember(
        input: {{workspaceId: $target, email: "planted@example.com", role: ADMIN}}
      ) {{ member {{ ...Everything }} {ERRORS} }}
    }}""",
    error_field="input.workspaceId",
)
CREATE_API_TOKEN = Operation(
    "createApiToken",
    f"""mutation($target: ID!) {{
      createApiToken(input: {{name: "planted", workspaceId: $target}}) {{
        apiToken {{ ...Everything }} token {ERRORS}
      }}
    }}""",
    error_field="input.workspaceId",
)
REVOKE_API_TOKEN = Operation(
    "revokeApiToken",
    f"""mutation($target: ID!) {{
      revokeApiToken(input: {{id: $target}}) {{ apiToken {{ ...Everything }} {ERRORS} }}
    }}""",
    error_field="input.id",
)

VIEWER = """
query {
  viewer {
    user { id email }
    organizations { totalCount edges { node { ...Everything } } }
    workspaces { totalCount edges { node { ...Everything } } }
    apiTokens { totalCount edges { node { ...Everything } } }
  }
}
"""


async def call(api: GraphQLClient, op: Operation, target: str, token: str) -> dict[str, Any]:
    return await api(op.document + EVERYTHING, {"target": target}, token=token)


def lookalike(target: str) -> str:
    """A value of the same kind as ``target`` that names nothing at all."""
    decoded = decode_global_id(target)
    if decoded is None:  # a slug
        return f"no-such-org-{uuid4().hex[:8]}"
    return global_id(decoded[0], uuid4())


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    alpha: Tenant
    bravo: Tenant
    # Named credentials ("alpha.owner", ...) and named targets ("bravo.ws1", ...).
    tokens: dict[str, str]
    targets: dict[str, str]

    def markers_of(self, prefix: str) -> set[str]:
        """Every target id under ``prefix``: none may appear in a forbidden answer."""
        return {v for k, v in self.targets.items() if k.startswith(prefix)}


async def _one(inspector_engine: AsyncEngine, statement: Any) -> UUID:
    async with inspector_engine.connect() as conn:
        value = (await conn.execute(statement)).scalar_one()
    assert isinstance(value, UUID)
    return value


async def _token_id(inspector_engine: AsyncEngine, user_id: UUID) -> UUID:
    return await _one(inspector_engine, select(ApiToken.id).where(ApiToken.user_id == user_id))


async def _membership_id(inspector_engine: AsyncEngine, user_id: UUID) -> UUID:
    return await _one(
        inspector_engine,
        select(WorkspaceMembership.id).where(WorkspaceMembership.user_id == user_id),
    )


# A token's last use is stamped when it authenticates, at most once a minute: within
# half of that since a world was built, no token of it is stamped again in a test.
MAX_WORLD_AGE = LAST_USED_RESOLUTION.total_seconds() / 2


@dataclass
class Worlds:
    """The current world, its rows when it was handed to the running test, and whether
    the next test may have it: only if that test left every row as it found it."""

    current: World | None = None
    rows: Snapshot | None = None
    built_at: float = 0.0
    kept: bool = False

    def reusable(self) -> bool:
        young = time.monotonic() - self.built_at < MAX_WORLD_AGE
        return self.current is not None and self.kept and young


@pytest.fixture(scope="module")
def worlds() -> Worlds:
    return Worlds()


@pytest_asyncio.fixture(loop_scope="session")
async def database(shared_database: Database) -> Database:
    """Overrides conftest's: the tables are emptied when a world is built (``world``) and
    after the module, not after every test."""
    return shared_database


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def _empty_afterwards(inspector_engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    await truncate_all(inspector_engine)


@pytest_asyncio.fixture(loop_scope="session")
async def world(
    api: GraphQLClient,
    database: Database,
    inspector_engine: AsyncEngine,
    worlds: Worlds,
) -> AsyncIterator[World]:
    """The last test's world if it left every row unchanged (and it is young), else a new
    one on emptied tables (``new_world``). Every row is compared after the test: a test
    that wrote anything (or failed half-way) leaves the next one a new world."""
    if not worlds.reusable():
        await truncate_all(inspector_engine)
        worlds.current = await new_world(api, database, inspector_engine)
        worlds.built_at = time.monotonic()
        worlds.rows = await snapshot(inspector_engine)
    worlds.kept = False
    assert worlds.current is not None
    yield worlds.current
    worlds.kept = await snapshot(inspector_engine) == worlds.rows


async def new_world(api: GraphQLClient, database: Database, inspector_engine: AsyncEngine) -> World:
    """Alpha and Bravo (2 workspaces each), plus people inside them:

    - alpha.ws1-guest: ADMIN of Alpha's workspace 1 only, no organization role;
    - alpha.ws2-member: EDITOR of Alpha's workspace 2 only;
    - alpha.ws1-only: a token of Alpha's owner limited to workspace 1;
    - bravo.member: EDITOR of Bravo's workspace 1, so Bravo has a membership row and a
      user that only Bravo's people may see.
    """
    a, b = await seed_tenant(database, "alpha"), await seed_tenant(database, "bravo")
    a_ws1, a_ws2 = a.workspace_ids
    _, guest_token = await add_guest(database, a_ws1, "guest@alpha.example", WorkspaceRole.ADMIN)
    a_member_id, a_member_token = await add_guest(
        database, a_ws2, "member2@alpha.example", WorkspaceRole.EDITOR
    )
    b_member_id, b_member_token = await add_guest(
        database, b.workspace_ids[0], "member@bravo.example", WorkspaceRole.EDITOR
    )
    created = await call(api, CREATE_API_TOKEN, a.ws_gid(0), a.token)
    assert created["data"]["createApiToken"]["errors"] == [], created
    tokens = {
        "alpha.owner": a.token,
        "alpha.ws1-guest": guest_token,
        "alpha.ws1-only": created["data"]["createApiToken"]["token"],
        "alpha.ws2-member": a_member_token,
        "bravo.owner": b.token,
        "bravo.member": b_member_token,
    }
    targets = {
        "bravo.org": b.org_gid,
        "bravo.slug": b.slug,
        "bravo.ws1": b.ws_gid(0),
        "bravo.ws2": b.ws_gid(1),
        "bravo.member": global_id(
            "WorkspaceMember", await _membership_id(inspector_engine, b_member_id)
        ),
        "bravo.owner-user": global_id("User", b.owner_id),
        "bravo.member-user": global_id("User", b_member_id),
        "bravo.owner-token": global_id("ApiToken", await _token_id(inspector_engine, b.owner_id)),
        "bravo.member-token": global_id("ApiToken", await _token_id(inspector_engine, b_member_id)),
        "alpha.ws2": a.ws_gid(1),
        "alpha.ws2-member": global_id(
            "WorkspaceMember", await _membership_id(inspector_engine, a_member_id)
        ),
        "alpha.ws2-member-user": global_id("User", a_member_id),
        "alpha.ws2-member-token": global_id(
            "ApiToken", await _token_id(inspector_engine, a_member_id)
        ),
    }
    # Authenticating stamps api_tokens.last_used_at (at most once a minute): use every
    # token once now, so that the snapshots taken later see no write but the attack's.
    for token in tokens.values():
        await api("{ viewer { user { id } } }", token=token)
    return World(alpha=a, bravo=b, tokens=tokens, targets=targets)


Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(inspector_engine: AsyncEngine) -> Snapshot:
    """Every row of every table, read as a superuser (behind scoping and RLS)."""
    async with inspector_engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in await conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


async def view_of(api: GraphQLClient, token: str) -> dict[str, Any]:
    return await api(VIEWER + EVERYTHING, token=token)


def assert_refused(op: Operation, answer: dict[str, Any]) -> None:
    """A query's null, or a mutation's single NOT_FOUND on the right input field."""
    value = answer["data"][op.field]
    if op.error_field is None:
        assert value is None, answer
        return
    errors = value.pop("errors")
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", op.error_field)], answer
    assert all(v is None for v in value.values()), answer


def assert_granted(op: Operation, answer: dict[str, Any]) -> None:
    value = answer["data"][op.field]
    assert value is not None, answer
    if op.error_field is not None:
        assert value["errors"] == [], answer


async def attempt(
    api: GraphQLClient,
    inspector_engine: AsyncEngine,
    world: World,
    *,
    attacker: str,
    op: Operation,
    target: str,
    owner: str,
) -> None:
    """The whole check for one attack; see the module docstring."""
    token, victim = world.tokens[attacker], world.targets[target]
    owners_view = await view_of(api, world.tokens[owner])
    before = await snapshot(inspector_engine)

    answer = await call(api, op, victim, token)
    assert await snapshot(inspector_engine) == before, f"{op}({target}) by {attacker} wrote rows"

    decoy = await call(api, op, lookalike(victim), token)
    assert answer == decoy, "the answer tells a hidden object from a nonexistent one"
    assert_refused(op, answer)
    assert await snapshot(inspector_engine) == before
    # The victim's owner still gets in and sees exactly what they saw before.
    assert await view_of(api, world.tokens[owner]) == owners_view


# --------------------------------------------------------------------------- attacks

# (operation, target, whose it is: the token that may legitimately reach it)
BRAVO_TARGETS = [
    (NODE, "bravo.org", "bravo.owner"),
    (NODE, "bravo.ws1", "bravo.owner"),
    (NODE, "bravo.ws2", "bravo.owner"),
    (NODE, "bravo.member", "bravo.owner"),
    (NODE, "bravo.owner-user", "bravo.owner"),
    (NODE, "bravo.member-user", "bravo.owner"),
    (NODE, "bravo.owner-token", "bravo.owner"),
    (NODE, "bravo.member-token", "bravo.member"),
    (WORKSPACE, "bravo.ws1", "bravo.owner"),
    (WORKSPACE, "bravo.ws2", "bravo.owner"),
    (ORGANIZATION, "bravo.slug", "bravo.owner"),
    (CREATE_WORKSPACE, "bravo.org", "bravo.owner"),
    (ADD_WORKSPACE_MEMBER, "bravo.ws1", "bravo.owner"),
    (ADD_WORKSPACE_MEMBER, "bravo.ws2", "bravo.owner"),
    (CREATE_API_TOKEN, "bravo.ws1", "bravo.owner"),
    (CREATE_API_TOKEN, "bravo.ws2", "bravo.owner"),
    (REVOKE_API_TOKEN, "bravo.owner-token", "bravo.owner"),
    (REVOKE_API_TOKEN, "bravo.member-token", "bravo.member"),
]

ALPHA_WS2_TARGETS = [
    (NODE, "alpha.ws2", "alpha.owner"),
    (NODE, "alpha.ws2-member", "alpha.owner"),
    (NODE, "alpha.ws2-member-user", "alpha.owner"),
    (NODE, "alpha.ws2-member-token", "alpha.ws2-member"),
    (WORKSPACE, "alpha.ws2", "alpha.owner"),
    (ADD_WORKSPACE_MEMBER, "alpha.ws2", "alpha.owner"),
    (CREATE_API_TOKEN, "alpha.ws2", "alpha.owner"),
    (REVOKE_API_TOKEN, "alpha.ws2-member-token", "alpha.ws2-member"),
]

# Everyone on Alpha's side: its owner, a guest of one workspace, a one-workspace token.
ALPHA_PEOPLE = ["alpha.owner", "alpha.ws1-guest", "alpha.ws1-only"]
# Those of them confined to Alpha's workspace 1.
ALPHA_WS1_ONLY = ["alpha.ws1-guest", "alpha.ws1-only"]


def _table(rows: list[tuple[Operation, str, str]]) -> list[Any]:
    return [pytest.param(op, target, owner, id=f"{op}({target})") for op, target, owner in rows]


@pytest.mark.parametrize("attacker", ALPHA_PEOPLE)
@pytest.mark.parametrize(("op", "target", "owner"), _table(BRAVO_TARGETS))
async def test_other_tenants_object_answers_like_a_nonexistent_one_and_nothing_changes(
    api: GraphQLClient,
    inspector_engine: AsyncEngine,
    world: World,
    attacker: str,
    op: Operation,
    target: str,
    owner: str,
) -> None:
    await attempt(
        api, inspector_engine, world, attacker=attacker, op=op, target=target, owner=owner
    )


@pytest.mark.parametrize("attacker", ALPHA_WS1_ONLY)
@pytest.mark.parametrize(("op", "target", "owner"), _table(ALPHA_WS2_TARGETS))
async def test_guest_and_limited_token_cannot_reach_the_organizations_other_workspace(
    api: GraphQLClient,
    inspector_engine: AsyncEngine,
    world: World,
    attacker: str,
    op: Operation,
    target: str,
    owner: str,
) -> None:
    await attempt(
        api, inspector_engine, world, attacker=attacker, op=op, target=target, owner=owner
    )


@pytest.mark.parametrize(
    ("op", "target", "owner"),
    _table([row for row in BRAVO_TARGETS + ALPHA_WS2_TARGETS if row[0].error_field is None]),
)
async def test_every_attacked_id_is_real_for_its_owner(
    api: GraphQLClient, world: World, op: Operation, target: str, owner: str
) -> None:
    """Guards the tests above from passing vacuously on ids that name nothing."""
    answer = await call(api, op, world.targets[target], world.tokens[owner])
    assert_granted(op, answer)


@pytest.mark.parametrize(
    ("op", "target", "owner"),
    _table([row for row in BRAVO_TARGETS + ALPHA_WS2_TARGETS if row[0].error_field]),
)
async def test_every_attacking_mutation_succeeds_for_the_targets_owner(
    api: GraphQLClient, world: World, op: Operation, target: str, owner: str
) -> None:
    """Guards the tests above: the mutations are refused for reach, not for being broken."""
    answer = await call(api, op, world.targets[target], world.tokens[owner])
    assert_granted(op, answer)


# --------------------------------------------------------------------------- viewer


@dataclass(frozen=True)
class Reach:
    """What a caller's viewer must list: exactly these, totalCount included."""

    workspaces: list[int]  # indexes into Alpha's workspaces
    api_tokens: int
    forbidden_prefixes: tuple[str, ...]
    forbidden_text: tuple[str, ...]


BRAVO_TEXT = ("bravo",)  # Bravo's slug, name, workspace names and emails all say it
ALPHA_WS2_TEXT = ("alpha client 2", "member2@alpha.example")
REACH = {
    "alpha.owner": Reach([0, 1], 2, ("bravo.",), BRAVO_TEXT),
    "alpha.ws1-guest": Reach([0], 1, ("bravo.", "alpha.ws2"), BRAVO_TEXT + ALPHA_WS2_TEXT),
    # A workspace-limited token lists only the tokens limited to that workspace.
    "alpha.ws1-only": Reach([0], 1, ("bravo.", "alpha.ws2"), BRAVO_TEXT + ALPHA_WS2_TEXT),
}


def _ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


@pytest.mark.parametrize("caller", ALPHA_PEOPLE)
async def test_viewer_lists_only_what_the_caller_may_reach(
    api: GraphQLClient, world: World, caller: str
) -> None:
    reach = REACH[caller]
    alpha = world.alpha
    viewer = (await view_of(api, world.tokens[caller]))["data"]["viewer"]

    workspaces = sorted(alpha.ws_gid(i) for i in reach.workspaces)
    assert viewer["organizations"]["totalCount"] == 1
    assert _ids(viewer["organizations"]) == [alpha.org_gid]
    assert viewer["workspaces"]["totalCount"] == len(workspaces)
    assert sorted(_ids(viewer["workspaces"])) == workspaces
    # Nested: the organization's workspaces are the same ones, not all of them.
    nested = viewer["organizations"]["edges"][0]["node"]["workspaces"]
    assert nested["totalCount"] == len(workspaces)
    assert sorted(_ids(nested)) == workspaces
    assert viewer["apiTokens"]["totalCount"] == reach.api_tokens
    assert len(viewer["apiTokens"]["edges"]) == reach.api_tokens

    text = json.dumps(viewer)
    leaked = {m for p in reach.forbidden_prefixes for m in world.markers_of(p) if m in text}
    assert leaked == set(), f"{caller} sees {leaked}"
    for forbidden in reach.forbidden_text:
        assert forbidden not in text.lower(), f"{caller} sees {forbidden!r}"


@pytest.mark.parametrize("caller", ALPHA_PEOPLE)
async def test_workspace_members_list_only_that_workspaces_people(
    api: GraphQLClient, world: World, caller: str
) -> None:
    answer = await call(api, WORKSPACE, world.alpha.ws_gid(0), world.tokens[caller])
    members = answer["data"]["workspace"]["members"]
    emails = [edge["node"]["user"]["email"] for edge in members["edges"]]
    assert members["totalCount"] == 1
    assert emails == ["guest@alpha.example"]


@pytest.mark.parametrize("connection", ["organizations", "workspaces", "apiTokens"])
@pytest.mark.parametrize("caller", ALPHA_PEOPLE)
async def test_a_cursor_from_the_other_tenant_pages_only_through_own_rows(
    api: GraphQLClient, world: World, caller: str, connection: str
) -> None:
    """Cursors are the only filter arguments: one copied from Bravo reveals nothing."""
    page = f"query($after: String) {{ viewer {{ {connection}(first: 1, after: $after) {{ "
    page += "totalCount edges { cursor node { id } } } } }"
    bravos = await api(page, token=world.tokens["bravo.owner"])
    cursor = bravos["data"]["viewer"][connection]["edges"][0]["cursor"]
    own = await api(page.replace("first: 1, ", ""), token=world.tokens[caller])
    own_ids = set(_ids(own["data"]["viewer"][connection]))

    answer = await api(page, {"after": cursor}, token=world.tokens[caller])
    seen = answer["data"]["viewer"][connection]
    assert set(_ids(seen)) <= own_ids
    assert seen["totalCount"] == own["data"]["viewer"][connection]["totalCount"]


# --------------------------------------------------------------------------- own rows elsewhere


@pytest.mark.parametrize("elsewhere", ["alpha.ws2", "bravo.ws1"])
async def test_a_limited_token_cannot_reach_its_own_users_membership_in_another_workspace(
    request: pytest.FixtureRequest,
    mode: str,
    api: GraphQLClient,
    database: Database,
    inspector_engine: AsyncEngine,
    world: World,
    elsewhere: str,
) -> None:
    """A person in Alpha's workspace 1 and elsewhere, calling with a token limited to ws1."""
    email = "both@example.com"
    user_id, full_token = await add_guest(
        database, world.alpha.workspace_ids[0], email, WorkspaceRole.EDITOR
    )
    other_ws = decode_global_id(world.targets[elsewhere])
    assert other_ws is not None
    await add_guest(database, other_ws[1], email, WorkspaceRole.EDITOR)
    created = await call(api, CREATE_API_TOKEN, world.alpha.ws_gid(0), full_token)
    assert created["data"]["createApiToken"]["errors"] == [], created
    limited = created["data"]["createApiToken"]["token"]
    await api("{ viewer { user { id } } }", token=limited)  # stamps last_used_at now
    membership = await _one(
        inspector_engine,
        select(WorkspaceMembership.id).where(
            WorkspaceMembership.user_id == user_id,
            WorkspaceMembership.workspace_id == other_ws[1],
        ),
    )
    world.tokens["both.ws1-only"] = limited
    world.tokens["both.full"] = full_token
    world.targets["both.membership-elsewhere"] = global_id("WorkspaceMember", membership)
    # The person's full token does reach it: the id is live.
    assert_granted(
        NODE, await call(api, NODE, world.targets["both.membership-elsewhere"], full_token)
    )

    await attempt(
        api,
        inspector_engine,
        world,
        attacker="both.ws1-only",
        op=NODE,
        target="both.membership-elsewhere",
        owner="both.full",
    )
