"""The permission matrix: every role over every operation, from its declaration.

Each mutation declares who may call it (``@mutation(RULE, …)``) and each admin-only
field who may read it (``@restricted_field(RULE, …)``); see
``graphql_schema/permissions.py``. This file reads those declarations off the
strawberry schema (a test fails when a mutation has none, or when an operation is
missing from the matrix) and tries every operation as every kind of caller of
tenant A, comparing the answer with the one the declared rule implies:

- allowed: the payload's ``errors`` is ``[]`` and exactly one audit event was written;
- the caller reaches the target workspace (or organization) but its role is too
  weak: one ``FORBIDDEN``;
- the caller does not reach the target at all: one ``NOT_FOUND`` (a field: null);
- a read-only token with a strong enough role, on a rule that ``writes``: one
  ``FORBIDDEN`` "This API token is read-only.".

Every refused call changes nothing (every row of every table, read as the tables'
owner). The world is the journey matrix's map plus what ``test_read_only_tokens``'s
``setting`` adds; the inputs are its ``CALLS``, whose target workspace is the
world's (tenant A's workspace 0). Every allowed call gets a fresh world. A refused
call or a read changes nothing (it is checked), so the next one may reuse its world
with the callers already made in it, for a while: see ``Worlds``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.relay import GlobalID

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.last_use import RESOLUTION as LAST_USED_RESOLUTION
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.db.types import utcnow
from backend.entrypoints.app import create_app
from backend.models import AuditVerification, DeadLetter, Invitation
from backend.settings import Environment, Settings
from backend.tenancy import service
from backend.vocabulary.roles import OrgRole, WorkspaceRole, strongest
from graphql_schema.permissions import (
    GUEST_INVITER,
    ORG_ADMIN,
    ORG_ADMIN_READ,
    WORKSPACE_ADMIN_READ,
    Requires,
    rule_of,
)
from graphql_schema.schema import build_schema
from tests.conftest import LOOPBACK_IDPS
from tests.fixtures.databases import TestDatabase, truncate_all
from tests.fixtures.dns_server import session_dns_server
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import add_guest
from tests.graphql.test_isolation import Snapshot, snapshot
from tests.graphql.test_org_roles import join_organization, org_member
from tests.graphql.test_read_only_tokens import (
    CALLS,
    INVITE,
    READ_ONLY,
    REVOKE_INVITATION,
    Call,
    Setting,
    _unplaced,
    refusal,
    setting,  # noqa: F401 - the fixture
)
from tests.graphql.test_tenancy_api import CREATE_TOKEN

Json = dict[str, Any]

# -- The declarations, read off the strawberry schema --------------------------------------

SCHEMA = build_schema(Settings())


def _graphql_name(strawberry_field: Any) -> str:
    return str(SCHEMA.config.name_converter.get_graphql_name(strawberry_field))


def _declared(type_name: str) -> dict[str, Requires | None]:
    definition = SCHEMA.get_type_by_name(type_name)
    assert definition is not None, type_name
    return {_graphql_name(f): rule_of(f) for f in definition.fields}  # type: ignore[union-attr]


MUTATION_RULES = _declared("Mutation")


def _restricted_fields() -> dict[tuple[str, str], Requires]:
    """Every field of every object type (but Mutation) that declares a rule."""
    found = {}
    for name, concrete in SCHEMA.schema_converter.type_map.items():
        for strawberry_field in getattr(concrete.definition, "fields", None) or []:
            rule = rule_of(strawberry_field)
            if rule is not None and name != "Mutation":
                found[(name, _graphql_name(strawberry_field))] = rule
    return found


RESTRICTED_FIELDS = _restricted_fields()


# -- One app for the whole matrix -----------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def matrix_app(test_database: TestDatabase, shared_database: Database) -> Starlette:
    """Built once: the app holds no state of its own between requests (as in production,
    one per process), and building its schema is most of a small test's time."""
    settings = session_dns_server().settings(
        Settings(
            env=Environment.TEST, database_url=test_database.app_url, outbound_allow=LOOPBACK_IDPS
        )
    )
    return create_app(settings, database=shared_database)


@pytest_asyncio.fixture(loop_scope="session")
async def client(matrix_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Overrides conftest's: the shared app, and no emptying of the tables (``Worlds``)."""
    transport = httpx.ASGITransport(app=matrix_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def database(shared_database: Database, inspector_engine: AsyncEngine) -> Database:
    """Overrides conftest's: requested only to build a world, on emptied tables."""
    await truncate_all(inspector_engine)
    return shared_database


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def _empty_afterwards(inspector_engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    await truncate_all(inspector_engine)


# -- Callers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A bearer token in tenant A, described by what its roles make of it.

    ``org_role`` is the user's membership of tenant A's organization,
    ``workspace_role`` their own role in the target workspace (workspace 0).
    ``limited_to`` is the workspace index a token is limited to.
    """

    name: str
    org_role: OrgRole | None = None
    workspace_role: WorkspaceRole | None = None
    read_only: bool = False
    limited_to: int | None = None
    owners: bool = False  # a token of the tenant's owner (who is org OWNER)

    @property
    def role_in_target(self) -> WorkspaceRole | None:
        """The effective role in workspace 0: org OWNER/ADMIN are ADMIN in every workspace."""
        if self.limited_to not in (None, 0):
            return None  # a limited token reaches its own workspace only
        implied = (
            WorkspaceRole.ADMIN
            if self.org_role is not None and self.org_role.at_least(OrgRole.ADMIN)
            else None
        )
        return strongest(implied, self.workspace_role)

    @property
    def org_powers(self) -> OrgRole | None:
        """The organization role it acts with: none at all for a workspace-limited token."""
        return None if self.limited_to is not None else self.org_role

    @property
    def sees_organization(self) -> bool:
        """Members see their organization; guests (and limited tokens) through a workspace."""
        return self.org_role is not None or self.workspace_role is not None


OWNER = Caller("owner", org_role=OrgRole.OWNER, owners=True)
CALLERS = [
    OWNER,
    Caller("org_admin", org_role=OrgRole.ADMIN),
    Caller("org_member", org_role=OrgRole.MEMBER),
    Caller("member_editor", org_role=OrgRole.MEMBER, workspace_role=WorkspaceRole.EDITOR),
    Caller("guest_admin", workspace_role=WorkspaceRole.ADMIN),
    Caller("guest_editor", workspace_role=WorkspaceRole.EDITOR),
    Caller("guest_viewer", workspace_role=WorkspaceRole.VIEWER),
    Caller("read_only", org_role=OrgRole.OWNER, read_only=True, owners=True),
    # The owner's token limited to the organization's OTHER workspace (index 1).
    Caller("other_workspace_token", org_role=OrgRole.OWNER, limited_to=1, owners=True),
    # Signed in, and nothing of tenant A at all: the only one tenant A's org is hidden from.
    Caller("outsider"),
]


@dataclass(frozen=True)
class Ground:
    """A fresh world: ``setting``, plus a pending guest invitation into workspace 0."""

    setting: Setting
    guest_invitation: str


# A token's last use is stamped when it authenticates, at most once a minute: within
# half of that since a world was built, no token of it is stamped again in a test.
MAX_WORLD_AGE = LAST_USED_RESOLUTION.total_seconds() / 2


@dataclass
class Worlds:
    """The current world, the tokens of the callers made in it, and whether it may serve again.

    A test that found its world unchanged ``keep``s it; any other test (an allowed
    call, a failure) leaves it to be rebuilt for the next.
    """

    current: Ground | None = None
    built_at: float = 0.0
    tokens: dict[str, str] = field(default_factory=dict)
    kept: bool = False

    def renew(self, ground: Ground) -> None:
        self.current, self.built_at, self.tokens, self.kept = ground, time.monotonic(), {}, False

    def reusable(self) -> bool:
        young = time.monotonic() - self.built_at < MAX_WORLD_AGE
        return self.current is not None and self.kept and young

    def keep(self) -> None:
        self.kept = True


@pytest.fixture(scope="module")
def worlds() -> Worlds:
    return Worlds()


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_ground(
    database: Database,
    setting: Setting,  # noqa: F811
    worlds: Worlds,
) -> Ground:
    """A new world (on emptied tables): ``setting``, a guest invitation, a chain check, a
    dead letter in each workspace and feedback in the other one."""
    tenant = setting.tenant
    ws, other = tenant.workspace_ids
    async with database.transaction(tenant.binding(), write=True) as session:
        invitation = Invitation(
            organization_id=tenant.organization_id,
            email="pending-guest@client.example",
            target_workspace_id=ws,
            workspace_role=WorkspaceRole.VIEWER,
            secret_hash="1" * 64,
            expires_at=utcnow() + timedelta(days=1),
        )
        session.add(invitation)
    # What the background verifier leaves: auditChainCheck answers null before it.
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        session.add(AuditVerification(workspace_id=ws, id=ws, verified_sequence=0))
    for workspace in (ws, other):
        async with database.transaction(
            TenantBinding(frozenset({workspace})), write=True
        ) as session:
            session.add(
                DeadLetter(
                    workspace_id=workspace,
                    actor="outbox.dispatch",
                    queue="default",
                    message_id=uuid4().hex,
                    args=[],
                    kwargs={},
                    error="boom",
                )
            )
            if workspace == other:
                session.add(_unplaced(other, "in the other workspace"))
    ground = Ground(setting=setting, guest_invitation=global_id("Invitation", invitation.id))
    worlds.renew(ground)
    return ground


@pytest.fixture
def shared_ground(request: pytest.FixtureRequest, worlds: Worlds) -> Ground:
    """The current world if the last test left it unchanged (and it is young), else a new one."""
    if not worlds.reusable():
        request.getfixturevalue("fresh_ground")
    worlds.kept = False  # until this test has seen it unchanged
    assert worlds.current is not None
    return worlds.current


async def token_of(caller: Caller, database: Database, gql: GraphQLClient, worlds: Worlds) -> str:
    """``caller``'s token in the current world (made there the first time), already used.

    Authenticating stamps a token's last use: done here, before any snapshot.
    """
    if caller.name not in worlds.tokens:
        assert worlds.current is not None
        worlds.tokens[caller.name] = await _make(caller, database, gql, worlds.current)
    return worlds.tokens[caller.name]


async def _make(caller: Caller, database: Database, gql: GraphQLClient, ground: Ground) -> str:
    tenant = ground.setting.tenant
    email = f"{caller.name.replace('_', '-')}@callers.example"
    if caller is OWNER:
        return tenant.token  # ``setting`` has used it
    if caller.owners:
        options: Json = {"readOnly": caller.read_only}
        if caller.limited_to is not None:
            options["workspaceId"] = tenant.ws_gid(caller.limited_to)
        created = await gql(
            CREATE_TOKEN, {"input": {"name": caller.name, **options}}, token=tenant.token
        )
        assert created["data"]["createApiToken"]["errors"] == [], created
        token = str(created["data"]["createApiToken"]["token"])
    elif caller.org_role is OrgRole.MEMBER:
        roles = {0: caller.workspace_role} if caller.workspace_role else {}
        token = await org_member(database, tenant, roles, email=email)
    elif caller.org_role is not None:
        assert caller.workspace_role is None, caller
        _, token = await join_organization(database, tenant, email, caller.org_role)
    elif caller.workspace_role is not None:
        _, token = await add_guest(database, tenant.workspace_ids[0], email, caller.workspace_role)
    else:
        token = await _outsider(database, email)
    await gql("{ viewer { user { id } } }", token=token)
    return token


async def _outsider(database: Database, email: str) -> str:
    """A signed-in user with no membership anywhere; their token."""
    async with database.transaction(NO_TENANT, write=True) as session:
        bind_actor(session, Actor.system())
        user = await service.user_for_email(session, email)
        issued = await service.issue_token(session, user.id, name="outsider")
    return issued.plaintext


async def test_the_callers_are_who_the_matrix_says(
    gql: GraphQLClient, shared_database: Database, worlds: Worlds, shared_ground: Ground
) -> None:
    """Each caller's effective roles, as the API reports them, match its description."""
    query = """query($ws: ID!, $slug: String!) {
      workspace(id: $ws) { viewerRole } organization(slug: $slug) { viewerRole } }"""
    variables = {"ws": shared_ground.setting.world.ws, "slug": shared_ground.setting.tenant.slug}
    for caller in CALLERS:
        token = await token_of(caller, shared_database, gql, worlds)
        body = (await gql(query, variables, token=token))["data"]
        ws_role = caller.role_in_target
        assert body["workspace"] == (ws_role and {"viewerRole": ws_role.name}), caller
        org_role = caller.org_powers
        org = {"viewerRole": org_role and org_role.name} if caller.sees_organization else None
        assert body["organization"] == org, caller
    worlds.keep()


# -- What the declared rule implies --------------------------------------------------------


class Answer(Enum):
    ALLOWED = "allowed"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    READ_ONLY = "read-only"


class Own(Enum):
    """What a SIGNED_IN ("on their own behalf") input acts on, in the caller's account."""

    ACCOUNT = "the caller's account as a whole"
    NEW_UNLIMITED_TOKEN = "a new token reaching all the caller's workspaces"
    OWNERS_TOKEN = "the owner's own unlimited token"


def expected(rule: Requires, caller: Caller, own: Own = Own.ACCOUNT) -> Answer:
    """The answer the roles give ``caller`` under ``rule``, on tenant A's workspace 0 / org."""
    if rule.workspace is not None:
        have = caller.role_in_target
        if have is None:
            return Answer.NOT_FOUND
        if not have.at_least(rule.workspace):
            return Answer.FORBIDDEN
    elif rule.organization is not None:
        if not caller.sees_organization:
            return Answer.NOT_FOUND
        powers = caller.org_powers
        if powers is None or not powers.at_least(rule.organization):
            return Answer.FORBIDDEN
    elif own is Own.OWNERS_TOKEN and not (caller.owners and caller.limited_to is None):
        # Others' tokens do not exist for a caller; a limited token sees only its
        # workspace's tokens.
        return Answer.NOT_FOUND
    elif own is Own.NEW_UNLIMITED_TOKEN and caller.limited_to is not None:
        # A limited token acts in its workspace only; it may not mint one wider.
        return Answer.FORBIDDEN
    if rule.writes and caller.read_only:
        return Answer.READ_ONLY
    return Answer.ALLOWED


# -- Mutations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    label: str  # the mutation's name, or name.variant
    call: Call
    input: Callable[[Ground], Json]
    own: Own = Own.ACCOUNT
    # GUEST_INVITER's note: an invitation into the organization itself (orgRole)
    # needs its ADMIN role; a guest invitation, the target workspace's ADMIN role.
    into_organization: bool = False

    @property
    def mutation(self) -> str:
        return self.call.mutation

    def rule(self) -> Requires:
        declared = MUTATION_RULES.get(self.mutation)
        assert declared is not None, f"{self.mutation} declares no rule"
        if declared == GUEST_INVITER and self.into_organization:
            return ORG_ADMIN
        return declared


# What the CALLS inputs name, where it decides more than the declared rule says:
# createInvitation invites an org MEMBER (orgRole) and revokeInvitation withdraws
# the setting's org MEMBER invitation: both need org ADMIN (GUEST_INVITER's note).
_FROM_THE_INPUT: dict[str, Json] = {
    "createApiToken": {"own": Own.NEW_UNLIMITED_TOKEN},
    "revokeApiToken": {"own": Own.OWNERS_TOKEN},
    "createInvitation": {"into_organization": True},
    "revokeInvitation": {"into_organization": True},
}


def _from_calls(call: Call) -> Op:
    return Op(
        call.mutation,
        call,
        lambda g, c=call: c.input(g.setting),  # type: ignore[misc]
        **_FROM_THE_INPUT.get(call.mutation, {}),
    )


OPS = [
    *(_from_calls(call) for call in CALLS),
    # GUEST_INVITER's other half: guests into the target workspace, by its ADMINs.
    Op(
        "createInvitation.guest",
        Call("createInvitation", INVITE, lambda s: {}),
        lambda g: {
            "organizationId": g.setting.tenant.org_gid,
            "email": "new-guest@client.example",
            "workspaceId": g.setting.world.ws,
            "workspaceRole": "EDITOR",
        },
    ),
    Op(
        "revokeInvitation.guest",
        Call("revokeInvitation", REVOKE_INVITATION, lambda s: {}),
        lambda g: {"id": g.guest_invitation},
    ),
]


def _cases(allowed: bool) -> list[Any]:
    cases = []
    for op in OPS:
        if MUTATION_RULES.get(op.mutation) is None:
            continue  # undeclared (or gone): the two tests below fail
        for caller in CALLERS:
            answer = expected(op.rule(), caller, op.own)
            if (answer is Answer.ALLOWED) != allowed:
                continue
            case_id = f"{op.label}-{caller.name}"
            cases.append(pytest.param(op, caller, answer, id=case_id))
    return cases


def _audit_count(state: Snapshot) -> int:
    return len(state["audit_events"]) + len(state["account_audit_events"])


def test_every_mutation_declares_its_rule() -> None:
    assert [name for name, rule in MUTATION_RULES.items() if rule is None] == []


def test_every_mutation_is_in_the_matrix() -> None:
    assert {op.mutation for op in OPS} == set(MUTATION_RULES)


async def _attempt(op: Op, ground: Ground, gql: GraphQLClient, token: str) -> Json:
    body = await gql(op.call.document, {"input": op.input(ground)}, token=token)
    return dict(body["data"][op.mutation])


@pytest.mark.parametrize(("op", "caller", "answer"), _cases(allowed=True))
async def test_allowed(
    op: Op,
    caller: Caller,
    answer: Answer,
    gql: GraphQLClient,
    shared_database: Database,
    inspector_engine: AsyncEngine,
    worlds: Worlds,
    fresh_ground: Ground,
) -> None:
    """On a fresh world: errors ``[]``, and one audit event (it happened)."""
    token = await token_of(caller, shared_database, gql, worlds)
    before = await snapshot(inspector_engine)
    payload = await _attempt(op, fresh_ground, gql, token)
    assert payload["errors"] == [], payload
    assert _audit_count(await snapshot(inspector_engine)) == _audit_count(before) + 1


@pytest.mark.parametrize(("op", "caller", "answer"), _cases(allowed=False))
async def test_refused(
    op: Op,
    caller: Caller,
    answer: Answer,
    gql: GraphQLClient,
    shared_database: Database,
    inspector_engine: AsyncEngine,
    worlds: Worlds,
    shared_ground: Ground,
) -> None:
    """One error with the expected code, and nothing changed."""
    token = await token_of(caller, shared_database, gql, worlds)
    before = await snapshot(inspector_engine)
    errors = refusal(await _attempt(op, shared_ground, gql, token))
    if answer is Answer.READ_ONLY:
        assert errors == [READ_ONLY]
    else:
        assert [code for code, _, _ in errors] == [answer.value], errors
        assert errors[0][:2] != READ_ONLY[:2], errors
    assert await snapshot(inspector_engine) == before
    worlds.keep()


# -- Restricted fields -------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    type_name: str  # Workspace (workspace 0) or Organization (tenant A's)
    field: str
    selection: str

    @property
    def label(self) -> str:
        return f"{self.type_name}.{self.field}"

    @property
    def document(self) -> str:
        if self.type_name == "Workspace":
            head = "query($ws: ID!) { target: workspace(id: $ws)"
        else:
            head = "query($slug: String!) { target: organization(slug: $slug)"
        return f"{head} {{ id {self.selection} }} }}"


READS = [
    Read("Workspace", "auditEvents", "auditEvents(first: 1) { totalCount }"),
    Read("Workspace", "deadLetters", "deadLetters { totalCount }"),
    Read("Workspace", "auditChainCheck", "auditChainCheck { ok verifiedSequence }"),
    Read("Workspace", "deletedJourneyMaps", "deletedJourneyMaps { edges { node { id } } }"),
    Read("Organization", "auditEvents", "auditEvents(first: 1) { totalCount }"),
    Read("Organization", "ssoConnections", "ssoConnections { id }"),
    Read("Organization", "domains", "domains { id }"),
    Read("Workspace", "ingestionTokens", "ingestionTokens { id }"),
]
# Not a restricted field: it answers a list, of the invitations the caller may manage
# (its description): the org's MEMBER invitation as ORG_ADMIN_READ, the guest
# invitation into workspace 0 as WORKSPACE_ADMIN_READ.
PENDING = Read("Organization", "pendingInvitations", "pendingInvitations { id }")


def test_every_restricted_field_is_in_the_matrix() -> None:
    assert set(RESTRICTED_FIELDS) == {(read.type_name, read.field) for read in READS}
    for read in READS:
        assert not RESTRICTED_FIELDS[(read.type_name, read.field)].writes, read.label


async def _read(gql: GraphQLClient, read: Read, ground: Ground, token: str) -> Json | None:
    if read.type_name == "Workspace":
        variables = {"ws": ground.setting.world.ws}
    else:
        variables = {"slug": ground.setting.tenant.slug}
    body = await gql(read.document, variables, token=token)
    target = body["data"]["target"]
    return None if target is None else dict(target)


@pytest.mark.parametrize(
    ("read", "caller"),
    [pytest.param(r, c, id=f"{r.label}-{c.name}") for r in READS for c in CALLERS],
)
async def test_restricted_field(
    read: Read,
    caller: Caller,
    gql: GraphQLClient,
    shared_database: Database,
    worlds: Worlds,
    shared_ground: Ground,
) -> None:
    rule = RESTRICTED_FIELDS[(read.type_name, read.field)]
    answer = expected(rule, caller)
    token = await token_of(caller, shared_database, gql, worlds)
    target = await _read(gql, read, shared_ground, token)
    if answer is Answer.NOT_FOUND:
        assert target is None  # the workspace or organization itself is out of reach
    elif answer is Answer.ALLOWED:
        # Exactly what the owner (ADMIN everywhere) reads.
        assert target is not None
        assert target[read.field] is not None, target
        assert target == await _read(gql, read, shared_ground, shared_ground.setting.tenant.token)
    else:
        assert target is not None
        assert target[read.field] is None, target
    worlds.keep()


@pytest.mark.parametrize(
    "caller", [pytest.param(c, id=f"{PENDING.label}-{c.name}") for c in CALLERS]
)
async def test_pending_invitations(
    caller: Caller,
    gql: GraphQLClient,
    shared_database: Database,
    worlds: Worlds,
    shared_ground: Ground,
) -> None:
    token = await token_of(caller, shared_database, gql, worlds)
    target = await _read(gql, PENDING, shared_ground, token)
    if not caller.sees_organization:
        assert target is None
    else:
        assert target is not None
        visible = {
            shared_ground.setting.invitation: expected(ORG_ADMIN_READ, caller),
            shared_ground.guest_invitation: expected(WORKSPACE_ADMIN_READ, caller),
        }
        shown = {i for i, answer in visible.items() if answer is Answer.ALLOWED}
        assert {i["id"] for i in target["pendingInvitations"]} == shown
    worlds.keep()


# -- node(id): what each caller's ordinary readers show, and nothing more -------------------

READERS = """query($ws: ID!, $other: ID!, $map: ID!, $slug: String!) {
  journeyMap(id: $map) { stages { touchpoints { painPoints { id } opportunities { id } } } }
  workspace(id: $ws) { ...Held }
  other: workspace(id: $other) { ...Held }
  organization(slug: $slug) { pendingInvitations { id } domains { id } ssoConnections { id } } }
fragment Held on Workspace { feedback(first: 100) { edges { node { id } } }
  ingestionTokens { id } deadLetters(first: 100) { edges { node { id } } } }"""
NODE_TYPES_READ = {
    "PainPoint",
    "Opportunity",
    "Feedback",
    "IngestionToken",
    "DeadLetter",
    "Invitation",
    "OrganizationDomain",
    "SsoConnection",
}


def _ids_in(answer: Any) -> set[str]:
    if isinstance(answer, dict):
        found = {answer["id"]} if isinstance(answer.get("id"), str) else set()
        return found.union(*(_ids_in(v) for k, v in answer.items() if k != "id"))
    if isinstance(answer, list):
        return set().union(*(_ids_in(v) for v in answer))
    return set()


async def _read_ids(gql: GraphQLClient, ground: Ground, token: str) -> set[str]:
    tenant = ground.setting.tenant
    variables = {
        "ws": tenant.ws_gid(0),
        "other": tenant.ws_gid(1),
        "map": ground.setting.world.map,
        "slug": tenant.slug,
    }
    return _ids_in((await gql(READERS, variables, token=token))["data"])


@pytest.mark.parametrize("caller", [pytest.param(c, id=c.name) for c in CALLERS])
async def test_node_finds_what_the_callers_readers_show(
    caller: Caller,
    gql: GraphQLClient,
    shared_database: Database,
    worlds: Worlds,
    shared_ground: Ground,
) -> None:
    """For every object of the kinds that became Nodes: ``node(id)`` answers it exactly
    when the caller's ordinary readers list it (the map's, the workspaces', the
    organization's admin fields), and null otherwise, never an error."""
    everything = await _read_ids(gql, shared_ground, shared_ground.setting.tenant.token)
    kinds = {GlobalID.from_id(i).type_name for i in everything}
    assert kinds == NODE_TYPES_READ  # the owner reads one of each kind at least
    token = await token_of(caller, shared_database, gql, worlds)
    shown = await _read_ids(gql, shared_ground, token)
    ordered = sorted(everything)
    document = "query({}) {{ {} }}".format(
        ", ".join(f"$i{n}: ID!" for n in range(len(ordered))),
        " ".join(f"n{n}: node(id: $i{n}) {{ id }}" for n in range(len(ordered))),
    )
    body = await gql(document, {f"i{n}": i for n, i in enumerate(ordered)}, token=token)
    found = {v["id"] for v in body["data"].values() if v is not None}
    assert found == shown
    if caller.owners or caller.org_role is OrgRole.ADMIN:
        assert (found == everything) is (caller.limited_to is None), caller
    if caller.name in ("guest_viewer", "guest_editor"):
        held = {GlobalID.from_id(i).type_name for i in found}
        assert held == {"PainPoint", "Opportunity", "Feedback"}  # no admin's objects
    if caller.name == "outsider":
        assert found == set()
    worlds.keep()
