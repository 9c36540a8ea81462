"""Tenant isolation, generated from the schema: every id-taking operation, attacked.

The promise: every query, mutation, node(id), nested field and filter made as one
tenant against the other's ids answers NOT_FOUND and changes nothing; on Postgres the
same suite passes with application scoping switched off (RLS alone holds).
``test_isolation.py`` checks that by hand for the tenancy operations; this module
derives the attacks from the schema, so that a new query field, filter argument or
mutation is attacked the day it appears, without anyone remembering to add a test.

Both tenants are seeded with the same world (the journey matrix's map, and what
``test_read_only_tokens``'s setting adds: a guest, an org member, an SSO connection,
an invitation; and a dead letter), so every id-bearing type exists on both sides.
Then, as tenant A's owner:

- **queries**: every argument of type ID (also inside an input object, like the audit
  filter's ``actorId``) of every field reachable from ``Query`` is given each of B's
  ids of the type it takes, and a random id of that type; ``node(id)`` and
  ``subjectId`` take every type, ``organization(slug)`` B's slug. A nested field is
  reached through A's own objects (``workspace(id: <A's>) { journeyMaps(personaId:
  …) }``). The field must answer null, or an empty connection for a filter, exactly
  as for the random id, and nothing of B may show anywhere in the answer.
- **mutations**: the valid tenant-A input that ``test_read_only_tokens.CALLS`` builds
  is changed in one ID field (recursively, a list's first element standing for all;
  a field the input leaves out is added) to each of B's ids of that type, and to a
  random one. The payload must carry exactly ``NOT_FOUND`` at that field and a null
  object, the same answer as for the random id, and no row of any table may change.
  The same input with A's own id there goes through (a separate guard test), so
  the refusal is for the id, not for a broken input.

The type an ID argument takes is read from its name: ``ID_ARGUMENTS``, else the
``…Id``/``…Ids`` suffix naming a type (``defaultWorkspaceIds`` → Workspace), else,
for ``id``, the field's type (``workspace(id)`` → Workspace; the ``Node`` interface:
any) or, in a mutation's input, the type of the valid input's value. An argument
whose type cannot be told fails ``test_every_id_argument_has_a_known_type`` (and its
own cases); a mutation without an input builder fails
``test_every_mutation_has_an_input_builder`` (and its cases).

"No row changed" is ``test_isolation.snapshot`` (every row of every table, read as
a superuser) without the last-used stamp that authenticating writes on API
tokens. The world is seeded once and put back from that snapshot after a test that
changed it (the guards do), which keeps the several hundred cases fast.

Every test runs in ``test_isolation``'s modes: the app as it runs and, on Postgres,
the app with application scoping switched off (row-level security alone).
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLUnionType,
    Lexer,
    Source,
    TokenKind,
    build_schema,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    parse,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID

from backend.auth.domains import record_name, record_value
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.entrypoints.app import create_app
from backend.health import recalculate
from backend.models import (
    Base,
    DeadLetter,
    Feedback,
    IngestionToken,
    Invitation,
    OrganizationDomain,
    OrganizationMembership,
    SsoConnection,
    SurveyDefinition,
)
from backend.settings import Environment, Settings
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from graphql_schema.limits import check_limits
from graphql_schema.schema import API_LIMITS, schema_sdl
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, truncate_all
from tests.fixtures.dns_server import session_dns_server
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.rogue_idp import RogueIdP
from tests.fixtures.tenants import Tenant, add_guest, seed_tenant
from tests.graphql import test_isolation as isolation
from tests.graphql.test_isolation import Snapshot, _membership_id, _token_id, snapshot
from tests.graphql.test_journey_matrix import _seed
from tests.graphql.test_read_only_tokens import CALLS, Setting, minimal

Json = dict[str, Any]
Path = tuple[str | int, ...]

SCHEMA = build_schema(schema_sdl())
assert SCHEMA.query_type is not None
assert SCHEMA.mutation_type is not None
QUERY = SCHEMA.query_type
MUTATIONS = SCHEMA.mutation_type.fields
NODE = SCHEMA.type_map["Node"]
assert isinstance(NODE, GraphQLInterfaceType)
BUILDERS = {call.mutation: call for call in CALLS}

# --------------------------------------------------------------------------- id types

ANY = "(any type)"  # an argument that takes an id of every type, like node(id)
SLUG = "Organization slug"  # organization(slug: String!): an id in all but type
BY_VALUE = "(the valid input's type)"  # a mutation input's `id`: whatever it names

# Argument names whose type the suffix rule cannot tell. Add new ones here.
ID_ARGUMENTS = {
    "actorId": "User",  # the audit filter: who acted
    "subjectId": ANY,  # the audit filter: what was acted on, any type
    "ownerId": "User",  # an initiative's owner
}

# Object types with an `id`: the types an ID argument can name.
ID_TYPES = sorted(
    name
    for name, type_ in SCHEMA.type_map.items()
    if isinstance(type_, GraphQLObjectType)
    and not name.startswith("__")
    and "id" in type_.fields
    and get_named_type(type_.fields["id"].type).name == "ID"
)


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)


def id_type_by_name(name: str) -> str | None:
    """The type an ID argument named ``name`` takes: ``personaIds`` → Persona."""
    if name in ID_ARGUMENTS:
        return ID_ARGUMENTS[name]
    match = re.fullmatch(r"(\w+?)Ids?", name)
    if match is None:
        return None
    words = [w[:1].upper() + w[1:] for w in _words(match.group(1))]
    for start in range(len(words)):  # defaultWorkspaceIds: DefaultWorkspace, Workspace
        candidate = "".join(words[start:])
        if candidate in ID_TYPES:
            return candidate
    return None


def id_type_of_field_argument(field: GraphQLField, name: str) -> str | None:
    """For a query field's argument: ``workspace(id)`` → Workspace, ``node(id)`` → any."""
    if name != "id":
        return id_type_by_name(name)
    returns = get_named_type(field.type)
    if isinstance(returns, GraphQLInterfaceType | GraphQLUnionType):
        return ANY
    return returns.name if returns.name in ID_TYPES else None


def id_types(kind: str) -> list[str]:
    return ID_TYPES if kind == ANY else [kind]


# --------------------------------------------------------------------------- input paths


def _is_id(type_: GraphQLInputType) -> bool:
    named = get_named_type(type_)
    return isinstance(named, GraphQLScalarType) and named.name == "ID"


def id_paths(type_: GraphQLInputType, path: Path, depth: int = 0) -> list[Path]:
    """Every ID inside a value of ``type_``, a list's first element standing for all."""
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return id_paths(type_.of_type, (*path, 0), depth)
    if isinstance(type_, GraphQLScalarType):
        return [path] if type_.name == "ID" else []
    if isinstance(type_, GraphQLInputObjectType) and depth < 5:
        return [
            found
            for name, field in type_.fields.items()
            for found in id_paths(field.type, (*path, name), depth + 1)
        ]
    return []


def field_name(path: Path) -> str:
    """The name of the input field a path ends in (``personaIds[0]`` → personaIds)."""
    return next(str(step) for step in reversed(path) if isinstance(step, str))


def render(path: Path) -> str:
    """As errors locate fields: ``input.personaEmotions[0].personaId``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f"{'.' if text else ''}{step}"
    return text


MISSING = object()


def value_at(value: Any, path: Path) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or len(value) <= step:
                return MISSING
        elif not isinstance(value, dict) or value.get(step) is None:
            return MISSING
        value = value[step]
    return value


def put(value: Any, type_: GraphQLInputType, path: Path, target: Any) -> Any:
    """``value`` with ``target`` at ``path``, creating lists and objects on the way."""
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if not path:
        return target
    step, rest = path[0], path[1:]
    if isinstance(type_, GraphQLList):
        assert isinstance(step, int)
        items = list(value or [])
        if len(items) <= step:
            items += [minimal(type_.of_type) for _ in range(step + 1 - len(items))]
        items[step] = put(items[step], type_.of_type, rest, target)
        return items
    assert isinstance(type_, GraphQLInputObjectType)
    assert isinstance(step, str)
    changed = copy.deepcopy(value) if isinstance(value, dict) else minimal(type_)
    changed[step] = put(changed.get(step), type_.fields[step].type, rest, target)
    return changed


# --------------------------------------------------------------------------- what to read


def _unwrap(type_: GraphQLOutputType) -> GraphQLNamedType:
    return get_named_type(type_)


def selection(type_: GraphQLOutputType, depth: int, aliased: frozenset[str] = frozenset()) -> str:
    """Every field of ``type_`` that takes no required argument, ``depth`` objects deep.

    A connection and its edges do not count as a level. The result is what a leak
    would show in, so it asks for as much as the query limits allow.
    """
    named = _unwrap(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        impls = SCHEMA.get_possible_types(named)
        # Two types' fields of one name but different types may not sit side by side.
        types: dict[str, set[str]] = {}
        for impl in impls:
            for name, field in impl.fields.items():
                types.setdefault(name, set()).add(str(field.type))
        clashing = frozenset(name for name, found in types.items() if len(found) > 1)
        fragments = [
            f"... on {impl.name} {{ {selection(impl, depth, clashing)} }}" for impl in impls
        ]
        return " ".join(["__typename", *fragments])
    assert isinstance(named, GraphQLObjectType)
    hop = 0 if named.name.endswith(("Connection", "Edge")) else 1
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(is_required_argument(arg) for arg in field.args.values()):
            continue
        page = "(first: 3)" if "first" in field.args else ""
        alias = f"{named.name}_{name}: " if name in aliased else ""
        inner = _unwrap(field.type)
        if is_leaf_type(inner):
            parts.append(f"{alias}{name}{page}")
        elif depth - hop >= 0:
            parts.append(f"{alias}{name}{page} {{ {selection(inner, depth - hop)} }}")
    return " ".join(parts)


MAX_TOKENS = 1200  # the API takes 3000; a leak shows in the ids, and big documents are slow


def _within_limits(document: str) -> bool:
    lexer, tokens = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        tokens += 1
    return tokens <= MAX_TOKENS and not check_limits(SCHEMA, parse(document), None, {}, API_LIMITS)


def rich_selection(type_: GraphQLOutputType, around: str) -> str:
    """The deepest ``selection`` (up to 3) whose document the API accepts.

    ``around`` is the document, with ``{}`` where the selection goes.
    """
    return _rich_selection(str(type_), around)


@cache
def _rich_selection(type_name: str, around: str) -> str:
    type_ = SCHEMA.type_map[type_name.strip("[]!")]
    for depth in (3, 2, 1):
        chosen = selection(type_, depth)
        if _within_limits(around.replace("{}", f"{{ {chosen} }}")):
            return chosen
    return selection(type_, 0)


# --------------------------------------------------------------------------- query sites


@dataclass(frozen=True)
class QuerySite:
    """An ID argument (or an ID inside one) of a field reachable from Query."""

    parent: str  # the object type the field is on
    field: str
    path: Path  # the argument's name, then where the ID sits inside it
    kind: str | None  # what it takes: a type name, ANY, SLUG; None: cannot tell

    def __str__(self) -> str:
        return f"{self.parent}.{self.field}({render(self.path)})"

    @property
    def definition(self) -> GraphQLField:
        parent = SCHEMA.type_map[self.parent]
        assert isinstance(parent, GraphQLObjectType)
        return parent.fields[self.field]


def reachable_types() -> list[GraphQLObjectType]:
    """Every object type a query can reach, in breadth-first order from Query."""
    seen: dict[str, GraphQLObjectType] = {}
    pending: deque[GraphQLNamedType] = deque([QUERY])
    while pending:
        type_ = pending.popleft()
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            pending.extend(SCHEMA.get_possible_types(type_))
            continue
        if not isinstance(type_, GraphQLObjectType) or type_.name in seen:
            continue
        seen[type_.name] = type_
        pending.extend(_unwrap(field.type) for field in type_.fields.values())
    return list(seen.values())


def query_sites() -> list[QuerySite]:
    sites = []
    for type_ in reachable_types():
        for name, field in type_.fields.items():
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                if arg_name == "slug" and named.name == "String":
                    sites.append(QuerySite(type_.name, name, (arg_name,), SLUG))
                for path in id_paths(arg.type, (arg_name,)):
                    kind = (
                        id_type_of_field_argument(field, arg_name)
                        if len(path) == 1
                        else id_type_by_name(field_name(path))
                    )
                    sites.append(QuerySite(type_.name, name, path, kind))
    return sites


QUERY_SITES = query_sites()


def _query_cases() -> list[Any]:
    cases = []
    for site in QUERY_SITES:
        for kind in id_types(site.kind) if site.kind else [None]:
            cases.append(pytest.param(site, kind, id=f"{site}-{kind}"))
    return cases


# --------------------------------------------------------------------------- mutation sites


@dataclass(frozen=True)
class MutationSite:
    mutation: str
    path: Path  # the argument's name ("input"), then where the ID sits inside it
    kind: str | None  # a type name, ANY, BY_VALUE; None: cannot tell

    def __str__(self) -> str:
        return f"{self.mutation}({render(self.path)})"


def mutation_sites(name: str) -> list[MutationSite]:
    sites = []
    for arg_name, arg in MUTATIONS[name].args.items():
        for path in id_paths(arg.type, (arg_name,)):
            leaf = field_name(path)
            kind = BY_VALUE if leaf == "id" else id_type_by_name(leaf)
            sites.append(MutationSite(name, path, kind))
    return sites


MUTATION_SITES = [site for name in MUTATIONS for site in mutation_sites(name)]
WITHOUT_IDS = sorted(name for name in MUTATIONS if not mutation_sites(name))


@cache
def _document(name: str) -> str:
    """The mutation with all of its arguments as variables, reading all it answers."""
    field = MUTATIONS[name]
    variables = ", ".join(f"${arg}: {spec.type}" for arg, spec in field.args.items())
    arguments = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    around = f"mutation({variables}) {{ {name}({arguments}) {{}} }}"
    return around.replace("{}", f"{{ {rich_selection(field.type, around)} }}")


# --------------------------------------------------------------------------- two modes


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=isolation.MODES)
async def api(
    request: pytest.FixtureRequest, test_database: TestDatabase, shared_database: Database
) -> AsyncIterator[GraphQLClient]:
    """``test_isolation``'s modes: the app as it runs, or (Postgres) with RLS alone.

    Module-scoped, on the shared database: the ``gql`` fixture's database is emptied
    after every test, and the world here is seeded once for many tests.
    """
    rls_only = request.param == isolation.RLS_ONLY
    database = make_database(test_database, app_scoping=False) if rls_only else shared_database
    settings = session_dns_server().settings(
        Settings(
            env=Environment.TEST, database_url=test_database.app_url, outbound_allow=("127.0.0.1",)
        )
    )
    transport = httpx.ASGITransport(app=create_app(settings, database=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
    if rls_only:
        await database.dispose()


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Side:
    """One tenant, seeded with the same world as the other."""

    tenant: Tenant
    setting: Setting  # what CALLS builds tenant A's valid inputs from
    ids: dict[str, list[str]]  # GraphQL type → this tenant's global ids of it
    seers: dict[str, str]  # an id → the token that sees it, when not the owner's

    @property
    def token(self) -> str:
        return self.tenant.token

    def seer(self, id_: str) -> str:
        """A token that may read the object: the owner's, or the user's for a token."""
        return self.seers.get(id_, self.token)

    @property
    def slug(self) -> str:
        return self.tenant.slug

    def own(self, kind: str) -> str:
        """This tenant's first id of a kind (its slug for SLUG)."""
        return self.targets(kind)[0]

    def targets(self, kind: str) -> list[str]:
        """All of this tenant's ids of a kind."""
        if kind == SLUG:
            return [self.slug]
        assert self.ids.get(kind), f"no {kind} is seeded: add one to _seed_side"
        return self.ids[kind]

    def marks(self) -> set[str]:
        """What no answer to the other tenant may contain: ids, raw uuids, names."""
        found = {self.slug, self.tenant.owner_email}
        for ids in self.ids.values():
            for id_ in ids:
                found |= {id_, GlobalID.from_id(id_).node_id}
        return found


def decoy(kind: str) -> str:
    """An id of the kind that names nothing at all."""
    return f"no-such-org-{uuid4().hex[:8]}" if kind == SLUG else global_id(kind, uuid4())


async def _seed_side(
    database: Database, inspector_engine: AsyncEngine, tenant: Tenant, issuer: str
) -> Side:
    """The journey matrix's world plus what ``test_read_only_tokens``'s setting adds:
    an SSO connection, a pending invitation, a guest of workspace 1, an org MEMBER
    holding a role in workspace 2; and a dead letter."""
    world = await _seed(database, tenant)
    ws1, ws2 = tenant.workspace_ids
    async with database.transaction(tenant.binding(), write=True) as session:
        connection = SsoConnection(
            organization_id=tenant.organization_id,
            issuer=f"https://idp.{tenant.slug}.example",
            client_id=tenant.slug,
            client_secret_encrypted="sealed",
            allowed_domains=[f"{tenant.slug}.example"],
            default_role=WorkspaceRole.VIEWER,
            default_workspace_ids=[],
        )
        invitation = Invitation(
            organization_id=tenant.organization_id,
            email=f"pending@{tenant.slug}.example",
            org_role=OrgRole.MEMBER,
            secret_hash=uuid4().hex * 2,
            expires_at=utcnow() + timedelta(days=1),
        )
        ingestion = IngestionToken(
            ingest_workspace_id=ws1,
            name=f"{tenant.slug} survey tool",
            prefix="wpin_seeded",
            secret_hash=uuid4().hex * 2,
        )
        domain = OrganizationDomain(
            organization_id=tenant.organization_id,
            domain=f"claimed-{tenant.slug}.example",
            verification_token=uuid4().hex,
        )
        # Its own domain verified (the SSO inputs name alpha.example and beta.example).
        verified = [f"{tenant.slug}.example"] + (["beta.example"] if tenant.slug == "alpha" else [])
        session.add_all(
            OrganizationDomain(
                organization_id=tenant.organization_id,
                domain=name,
                verification_token=uuid4().hex,
                verified_at=utcnow(),
            )
            for name in verified
        )
        session.add_all([connection, invitation, ingestion, domain])
    session_dns_server().set_txt(record_name(domain.domain), record_value(domain))
    guest, guest_token = await add_guest(
        database, ws1, f"guest@{tenant.slug}.example", WorkspaceRole.VIEWER
    )
    member, _ = await add_guest(
        database, ws2, f"member@{tenant.slug}.example", WorkspaceRole.VIEWER
    )
    async with database.transaction(tenant.binding(), write=True) as session:
        session.add(
            OrganizationMembership(
                organization_id=tenant.organization_id, user_id=member, role=OrgRole.MEMBER
            )
        )
    letter = DeadLetter(
        workspace_id=ws1,
        id=uuid4(),
        actor="ingest",
        queue="default",
        message_id=uuid4().hex,
        args=[],
        kwargs={},
        error="boom",
    )
    feedback = Feedback(
        workspace_id=ws1,
        id=uuid4(),
        source=FeedbackSource.SURVEY,
        external_id=f"seed-{tenant.slug}",
        text="Paying took forever",
        occurred_at=utcnow(),
    )
    survey = SurveyDefinition(
        workspace_id=ws1,
        id=uuid4(),
        key="nps-after-pay",
        measure=MeasureKind.NPS,
        scale_min=0,
        scale_max=10,
    )
    async with database.transaction(TenantBinding(frozenset({ws1})), write=True) as session:
        session.add_all([letter, feedback, survey])
        # Scores, history and evidence rows of its own, for attacks to leave alone.
        await recalculate.recalculate(session, ws1, full=True)
    owner_token = global_id("ApiToken", await _token_id(inspector_engine, tenant.owner_id))
    users = [global_id("User", user) for user in (tenant.owner_id, guest, member)]
    ids = {
        "Organization": [tenant.org_gid],
        "Workspace": [tenant.ws_gid(0), tenant.ws_gid(1)],
        "User": users,
        "ApiToken": [owner_token, global_id("ApiToken", await _token_id(inspector_engine, guest))],
        "WorkspaceMember": [
            global_id("WorkspaceMember", await _membership_id(inspector_engine, guest))
        ],
        "Invitation": [global_id("Invitation", invitation.id)],
        "Persona": [world.persona],
        "JourneyMap": [world.map, world.deleted_map],
        "Stage": [world.discover, world.buy],
        "Touchpoint": [world.ad, world.pay, world.receipt],
        "PainPoint": [world.pain],
        "Opportunity": [world.idea],
        "SsoConnection": [global_id("SsoConnection", connection.id)],
        "DeadLetter": [global_id("DeadLetter", letter.id)],
        "Feedback": [global_id("Feedback", feedback.id)],
        "IngestionToken": [global_id("IngestionToken", ingestion.id)],
        "OrganizationDomain": [global_id("OrganizationDomain", domain.id)],
        "Initiative": [world.initiative],
        "Metric": [world.metric],
        "SurveyDefinition": [global_id("SurveyDefinition", survey.id)],
    }
    setting = Setting(
        tenant=tenant,
        world=world,
        owner_token_id=owner_token,
        sso_connection=ids["SsoConnection"][0],
        issuer=issuer,
        invitation=ids["Invitation"][0],
        guest=users[1],
        member=users[2],
        ingestion_token=ids["IngestionToken"][0],
        domain=ids["OrganizationDomain"][0],
        survey_definition=ids["SurveyDefinition"][0],
        feedback=ids["Feedback"][0],
    )
    # Only its user sees an API token.
    return Side(tenant=tenant, setting=setting, ids=ids, seers={ids["ApiToken"][1]: guest_token})


@dataclass(frozen=True)
class Sides:
    a: Side  # the attacker
    b: Side  # the victim


@dataclass
class Cache:
    """The world the module's tests share, and every row of it as seeded."""

    sides: Sides | None = None
    seeded: Snapshot | None = None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cache(inspector_engine: AsyncEngine) -> AsyncIterator[Cache]:
    await truncate_all(inspector_engine)
    yield Cache()
    await truncate_all(inspector_engine)  # as the per-test ``database`` fixture leaves it


@pytest_asyncio.fixture(loop_scope="session")
async def sides(
    cache: Cache, shared_database: Database, inspector_engine: AsyncEngine, rogue_idp: RogueIdP
) -> Sides:
    """Both tenants' world: seeded once, put back row by row after a test changed it.

    Seeding for each of the hundreds of cases would take minutes; an attack that
    changes nothing leaves the world as it was for the next one.
    """
    if cache.sides is not None and cache.seeded is not None:
        if masked(await snapshot(inspector_engine)) == masked(cache.seeded):
            return cache.sides
        await restore(inspector_engine, cache.seeded)
        if masked(await snapshot(inspector_engine)) == masked(cache.seeded):
            return cache.sides
    await truncate_all(inspector_engine)
    database = shared_database
    a = await _seed_side(
        database, inspector_engine, await seed_tenant(database, "alpha"), rogue_idp.issuer
    )
    b = await _seed_side(
        database, inspector_engine, await seed_tenant(database, "bravo"), rogue_idp.issuer
    )
    cache.sides, cache.seeded = Sides(a=a, b=b), await snapshot(inspector_engine)
    return cache.sides


async def restore(inspector_engine: AsyncEngine, saved: Snapshot) -> None:
    """Every table emptied and filled again with the saved rows, as a superuser."""
    await truncate_all(inspector_engine)
    async with inspector_engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if saved[table.name]:
                keys = table.columns.keys()
                await conn.execute(
                    table.insert(), [dict(zip(keys, row, strict=True)) for row in saved[table.name]]
                )


_TOKEN_COLUMNS = [c.name for c in Base.metadata.tables["api_tokens"].columns]
# What authenticating writes, at most once a minute, on any request.
STAMPS = {_TOKEN_COLUMNS.index("last_used_at"), _TOKEN_COLUMNS.index("updated_at")}


def masked(found: Snapshot) -> Snapshot:
    """All rows but for the stamp an API token gets when used (``last_used_at``, and so
    ``updated_at``): authenticating writes it, at most once a minute, on any request."""
    return {
        **found,
        "api_tokens": [
            tuple(None if n in STAMPS else value for n, value in enumerate(row))
            for row in found["api_tokens"]
        ],
    }


async def rows(inspector_engine: AsyncEngine) -> Snapshot:
    """``snapshot``: every row of every table, read as a superuser; ``masked``."""
    return masked(await snapshot(inspector_engine))


def assert_no_trace(answer: Json, side: Side, what: str) -> None:
    text = json.dumps(answer)
    leaked = sorted(mark for mark in side.marks() if mark in text)
    assert leaked == [], f"{what} shows tenant {side.slug}'s {leaked}: {answer}"


# --------------------------------------------------------------------------- coverage


def test_every_id_argument_has_a_known_type() -> None:
    unknown = [str(s) for s in QUERY_SITES if s.kind is None]
    unknown += [str(s) for s in MUTATION_SITES if s.kind is None]
    assert unknown == [], (
        f"cannot tell which type of id these arguments take: {unknown}; name them "
        "<type>Id / <type>Ids or add them to ID_ARGUMENTS"
    )


def test_every_mutation_has_an_input_builder() -> None:
    missing = sorted(set(MUTATIONS) - set(BUILDERS))
    assert missing == [], (
        f"no valid input for {missing}: add a Call to test_read_only_tokens.CALLS "
        "(or a Row to test_journey_matrix.ROWS) so they are attacked here too"
    )


def test_the_schema_has_what_the_generator_must_find() -> None:
    """Guards the generator: it finds the ids it must (and so will find new ones)."""
    found = {str(site) for site in QUERY_SITES}
    assert {
        "Query.node(id)",
        "Query.workspace(id)",
        "Query.journeyMap(id)",
        "Query.organization(slug)",
        "Workspace.journeyMaps(personaId)",
        "Workspace.auditEvents(filter.actorId)",
        "Organization.auditEvents(filter.subjectId)",
        "Viewer.auditEvents(filter.subjectId)",
    } <= found, found
    paths = {str(site) for site in MUTATION_SITES}
    assert {
        "addTouchpoint(input.personaEmotions[0].personaId)",
        "createJourneyMap(input.personaIds[0])",
        "createSsoConnection(input.defaultWorkspaceIds[0])",
    } <= paths, paths
    assert "signOutEverywhere" in WITHOUT_IDS


@pytest.mark.parametrize("name", WITHOUT_IDS)
def test_a_mutation_without_ids_is_covered_by_construction(name: str) -> None:
    """It names nothing, so it can only act on the caller's own things."""
    assert mutation_sites(name) == []
    assert all(not _is_id(arg.type) for arg in MUTATIONS[name].args.values())


async def test_both_tenants_have_an_id_of_every_type(api: GraphQLClient, sides: Sides) -> None:
    """Every id-bearing type is seeded on both sides, and every seeded id is live."""
    for side in (sides.a, sides.b):
        assert sorted(side.ids) == ID_TYPES, "seed the new type in _seed_side"
        world = side.setting.world
        seen = await api(
            """query($map: ID!, $ws: ID!, $slug: String!) {
              journeyMap(id: $map) { stages { touchpoints {
                painPoints { id } opportunities { id } } } }
              workspace(id: $ws) { deadLetters { edges { node { id } } }
                                   feedback { edges { node { id } } }
                                   ingestionTokens { id } }
              organization(slug: $slug) { ssoConnections { id } pendingInvitations { id }
                                                domains { id } } }""",
            {"map": world.map, "ws": world.ws, "slug": side.slug},
            token=side.token,
        )
        text = json.dumps(seen)
        nodes = {t.name for t in SCHEMA.get_possible_types(NODE)}
        for type_name, ids in side.ids.items():
            for id_ in ids:
                if type_name in nodes:
                    found = await api(
                        "query($id: ID!) { node(id: $id) { id } }",
                        {"id": id_},
                        token=side.seer(id_),
                    )
                    if id_ == world.deleted_map:
                        assert found["data"]["node"] is None  # deleted: gone from reads
                    else:
                        assert found["data"]["node"] == {"id": id_}, (type_name, id_)
                else:
                    raw = GlobalID.from_id(id_).node_id
                    assert id_ in text or raw in text, (type_name, id_, seen)


# --------------------------------------------------------------------------- queries


def routes(side: Side) -> dict[str, list[str]]:
    """How the side's owner reaches an instance of each object type: the fields to open.

    Breadth-first from Query; an argument is given the side's own id of its type, so
    ``Workspace`` is reached through ``workspace(id: <own workspace>)``.
    """
    found: dict[str, list[str]] = {QUERY.name: []}
    pending: deque[tuple[GraphQLObjectType, list[str]]] = deque([(QUERY, [])])
    while pending:
        type_, route = pending.popleft()
        for name, field in type_.fields.items():
            returns = _unwrap(field.type)
            if is_leaf_type(returns):
                continue
            steps = _steps(side, name, field)
            for target, opened in steps:
                if target.name not in found:
                    found[target.name] = [*route, *opened]
                    pending.append((target, [*route, *opened]))
    return found


def _steps(side: Side, name: str, field: GraphQLField) -> list[tuple[GraphQLObjectType, list[str]]]:
    returns = _unwrap(field.type)
    targets = (
        SCHEMA.get_possible_types(returns)
        if isinstance(returns, GraphQLInterfaceType | GraphQLUnionType)
        else [returns]
    )
    steps = []
    for target in targets:
        assert isinstance(target, GraphQLObjectType)
        arguments = []
        for arg_name, arg in field.args.items():
            if not is_required_argument(arg):
                continue
            kind = (
                SLUG
                if arg_name == "slug"
                else id_type_of_field_argument(field, arg_name)
                if _is_id(arg.type)
                else None
            )
            kind = target.name if kind == ANY else kind
            if kind is None or (kind != SLUG and kind not in side.ids):
                break
            arguments.append(f"{arg_name}: {json.dumps(side.own(kind))}")
        else:
            opener = f"{name}({', '.join(arguments)})" if arguments else name
            fragment = [f"... on {target.name}"] if target is not returns else []
            steps.append((target, [opener, *fragment]))
    return steps


def query_document(site: QuerySite, side: Side) -> tuple[str, str]:
    """The query (variable ``$arg`` for the attacked argument) and the argument's type."""
    route = routes(side).get(site.parent)
    assert route is not None, f"no way to reach a {site.parent} as tenant {side.slug}"
    field = site.definition
    arguments = [f"{site.path[0]}: $arg"]
    for arg_name, arg in field.args.items():
        if arg_name != site.path[0] and is_required_argument(arg):
            kind = id_type_of_field_argument(field, arg_name) if _is_id(arg.type) else None
            assert kind not in (None, ANY), f"{site}: cannot fill required {arg_name}"
            arguments.append(f"{arg_name}: {json.dumps(side.own(kind))}")
    probe = f"probe: {site.field}({', '.join(arguments)})"
    arg_type = field.args[str(site.path[0])].type
    around = f"query($arg: {arg_type}) {{ {_wrap(route, probe + ' {}')} }}"
    if is_leaf_type(_unwrap(field.type)):
        return around.replace(" {}", ""), str(arg_type)
    return around.replace("{}", f"{{ {rich_selection(field.type, around)} }}"), str(arg_type)


def _wrap(route: list[str], inner: str) -> str:
    for opener in reversed(route):
        inner = f"{opener} {{ {inner} }}"
    return inner


def probes(value: Any) -> list[Any]:
    """Every answer of the attacked field, wherever the route repeated it."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "probe"] + [
            p for k, v in value.items() if k != "probe" for p in probes(v)
        ]
    if isinstance(value, list):
        return [p for v in value for p in probes(v)]
    return []


def is_nothing(value: Any) -> bool:
    """Null, an empty list, or an empty connection: what a filter on nothing answers."""
    if value is None or value == []:
        return True
    return isinstance(value, dict) and value.get("edges") == [] and value.get("totalCount") == 0


def query_argument(site: QuerySite, target: str) -> Any:
    arg = site.definition.args[str(site.path[0])]
    return put(None, arg.type, site.path[1:], target)


@pytest.mark.parametrize(("site", "kind"), _query_cases())
async def test_query_with_the_other_tenants_id_answers_like_a_random_one(
    api: GraphQLClient, sides: Sides, site: QuerySite, kind: str | None
) -> None:
    assert kind is not None, f"{site}: cannot tell which type of id it takes (ID_ARGUMENTS)"
    a, b = sides.a, sides.b
    document, _ = query_document(site, a)
    nothing = await api(document, {"arg": query_argument(site, decoy(kind))}, token=a.token)
    answers = probes(nothing["data"])
    assert answers, f"{site} was never reached: the route to it is empty ({nothing})"
    assert all(is_nothing(p) for p in answers), nothing
    for target in b.targets(kind):
        answer = await api(document, {"arg": query_argument(site, target)}, token=a.token)
        assert_no_trace(answer, b, f"{site} given {target}")
        assert answer == nothing, f"{site} tells {b.slug}'s {kind} from a random one"


def _owner_cases() -> list[Any]:
    """Root fields, each with the types it returns: for the owner, these answer something."""
    cases = []
    for site in QUERY_SITES:
        if site.parent != QUERY.name or len(site.path) != 1 or site.kind is None:
            continue
        returns = _unwrap(site.definition.type)
        possible = (
            {t.name for t in SCHEMA.get_possible_types(returns)}
            if isinstance(returns, GraphQLInterfaceType | GraphQLUnionType)
            else {returns.name}
        )
        for kind in id_types(site.kind):
            if kind in possible or kind == SLUG:
                cases.append(pytest.param(site, kind, id=f"{site}-{kind}"))
    return cases


@pytest.mark.parametrize(("site", "kind"), _owner_cases())
async def test_the_same_query_answers_the_ids_owner(
    api: GraphQLClient, sides: Sides, site: QuerySite, kind: str
) -> None:
    """Guards the test above from passing on ids that name nothing to anyone."""
    b = sides.b
    document, _ = query_document(site, b)
    deleted = b.setting.world.deleted_map
    for target in b.targets(kind):
        answer = await api(document, {"arg": query_argument(site, target)}, token=b.seer(target))
        [value] = probes(answer["data"])
        assert is_nothing(value) == (target == deleted), (site, target, answer)


# --------------------------------------------------------------------------- mutations

# What an optional ID field needs alongside when the valid input leaves it out.
COMPANIONS: dict[str, Json] = {
    "createInvitation(input.workspaceId)": {"workspaceRole": "VIEWER"},
    # A metric measures one thing: naming a map or stage leaves out the touchpoint.
    "createMetric(input.journeyMapId)": {"touchpointId": None},
    "createMetric(input.stageId)": {"touchpointId": None},
}


class NotNotFound(AssertionError):
    """The refusal is indistinguishable, but its code is not NOT_FOUND."""


def _mutation_cases() -> list[Any]:
    return [pytest.param(site, id=str(site)) for site in MUTATION_SITES]


def _payload(answer: Json, name: str) -> Json:
    return dict(answer["data"][name])


def _refusal(payload: Json) -> list[tuple[str, str | None]]:
    assert all(v is None for k, v in payload.items() if k not in ("errors", "__typename")), payload
    return [(e["code"], e["field"]) for e in payload["errors"]]


@dataclass(frozen=True)
class Attack:
    """One ID field of one mutation's valid tenant-A input, ready to be swapped."""

    site: MutationSite
    base: Json  # the builder's valid input, with what the field needs alongside
    kinds: list[str]  # the types it may name
    own: str  # tenant A's id there: the builder's, or A's first of the type

    def input(self, target: str) -> Json:
        [arg] = MUTATIONS[self.site.mutation].args.values()
        return put(self.base, arg.type, self.site.path[1:], target)


def attack(site: MutationSite, a: Side) -> Attack:
    assert site.kind is not None, f"{site}: cannot tell which type of id it takes (ID_ARGUMENTS)"
    builder = BUILDERS.get(site.mutation)
    assert builder is not None, f"{site.mutation} has no input builder in CALLS"
    base = {**builder.input(a.setting), **COMPANIONS.get(str(site), {})}
    present = value_at(base, site.path[1:])
    if site.kind == BY_VALUE:
        assert present is not MISSING, f"{site}: the valid input names no {site.path[-1]}"
        kinds = [GlobalID.from_id(present).type_name]
    else:
        kinds = id_types(site.kind)
        if present is not MISSING:
            assert GlobalID.from_id(present).type_name in kinds, (
                f"{site} is taken to name a {site.kind}; the valid input names another type"
            )
    own = present if present is not MISSING else a.ids[kinds[0]][0]
    return Attack(site=site, base=base, kinds=kinds, own=own)


async def mutate(api: GraphQLClient, name: str, input_: Json, token: str) -> Json:
    [arg] = MUTATIONS[name].args
    return _payload(await api(_document(name), {arg: input_}, token=token), name)


@pytest.mark.parametrize("site", _mutation_cases())
async def test_mutation_with_the_other_tenants_id_is_not_found_and_changes_nothing(
    api: GraphQLClient, inspector_engine: AsyncEngine, sides: Sides, site: MutationSite
) -> None:
    a, b = sides.a, sides.b
    plan = attack(site, a)
    before = await rows(inspector_engine)
    for kind in plan.kinds:
        nothing = await mutate(api, site.mutation, plan.input(decoy(kind)), a.token)
        assert await rows(inspector_engine) == before, f"{site} with a random id wrote rows"
        for target in b.targets(kind):
            answer = await mutate(api, site.mutation, plan.input(target), a.token)
            assert await rows(inspector_engine) == before, f"{site} given {target} wrote rows"
            assert_no_trace(answer, b, f"{site} given {target}")
            assert answer == nothing, f"{site} tells {b.slug}'s {kind} from a random one"
        refusal = _refusal(dict(nothing))
        if refusal != [("NOT_FOUND", render(site.path))]:
            raise NotNotFound(f"{site}: {nothing}")


@pytest.mark.parametrize("site", [pytest.param(site, id=str(site)) for site in MUTATION_SITES])
async def test_the_same_input_with_the_tenants_own_id_goes_through(
    api: GraphQLClient, sides: Sides, site: MutationSite
) -> None:
    """Guards the test above: the refusal is for the id, not for a broken input."""
    plan = attack(site, sides.a)
    answer = await mutate(api, site.mutation, plan.input(plan.own), sides.a.token)
    assert answer["errors"] == [], (
        f"{site}: the valid input fails (for an optional field: see COMPANIONS): {answer}"
    )
    assert_no_trace(answer, sides.b, str(site))
