"""A read-only API token reads everything its user may, and changes nothing.

Every mutation of the schema is tried with a read-only token of tenant A's owner,
who could otherwise do all of them. The read-only check sits in ``Access`` and
runs once the mutation has parsed its ids and found its target, so a refusal
that names the token needs a valid input: the journey mutations take theirs from
the journey matrix's rows and its seeded world, the tenancy ones from ``CALLS``
below, and a test fails when a mutation has neither. Minimal inputs built from
the schema alone cover a new mutation before it has a row: refused, nothing written.
"Nothing changed" is every row of every table, read as a superuser.

The tests that only read or are refused (minimal inputs, the reads) take the last
such test's world when it left every row as it found it, for a while (``Shared``);
every other test builds its own on emptied tables.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
    build_schema,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.domains import record_name, record_value
from backend.auth.last_use import RESOLUTION as LAST_USED_RESOLUTION
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import (
    Feedback,
    IngestionToken,
    Invitation,
    OrganizationDomain,
    OrganizationMembership,
    SsoConnection,
    SurveyDefinition,
)
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, Placement
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from graphql_schema.schema import schema_sdl
from tests.fixtures.databases import truncate_all
from tests.fixtures.dns_server import session_dns_server
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.rogue_idp import RogueIdP
from tests.fixtures.sso import CLAIM_DOMAIN, CREATE_CONNECTION
from tests.fixtures.tenants import Tenant, add_guest
from tests.graphql.test_isolation import Snapshot, snapshot
from tests.graphql.test_journey_matrix import ROWS, World, _seed
from tests.graphql.test_tenancy_api import (
    ADD_MEMBER,
    CREATE_TOKEN,
    CREATE_WORKSPACE,
    UPDATE_WORKSPACE,
)

Json = dict[str, Any]
SCHEMA = build_schema(schema_sdl())
assert SCHEMA.mutation_type is not None
MUTATIONS = SCHEMA.mutation_type.fields
READ_ONLY = ("FORBIDDEN", "This API token is read-only.", None)


@dataclass(frozen=True)
class Setting:
    """What the inputs refer to: tenant A, its journey world, its owner's first token."""

    tenant: Tenant
    world: World
    owner_token_id: str
    sso_connection: str  # another issuer than ``issuer``
    issuer: str  # a live OpenID provider, for createSsoConnection to discover
    invitation: str
    guest: str  # a user with a role in the world's workspace only
    member: str  # an org MEMBER of tenant A
    ingestion_token: str  # of the world's workspace
    domain: str  # a domain tenant A claimed, not yet verified
    survey_definition: str  # a survey of the world's workspace
    feedback: str  # an item of the world's workspace


@dataclass(frozen=True)
class Call:
    mutation: str
    document: str  # takes one variable, $input
    input: Callable[[Setting], Json]


REVOKE_TOKEN = """mutation($input: RevokeApiTokenInput!) {
  revokeApiToken(input: $input) { apiToken { id revokedAt } errors { code message field } } }"""

UPDATE_CONNECTION = """mutation($input: UpdateSsoConnectionInput!) {
  updateSsoConnection(input: $input) { ssoConnection { id } errors { code message field } } }"""
DISABLE_CONNECTION = """mutation($input: DisableSsoConnectionInput!) {
  disableSsoConnection(input: $input) { ssoConnection { id } errors { code message field } } }"""
VERIFY_DOMAIN_INPUT = """mutation($input: VerifyDomainInput!) {
  verifyDomain(input: $input) { domain { id verified } errors { code message field } } }"""
REMOVE_DOMAIN = """mutation($input: RemoveDomainInput!) {
  removeDomain(input: $input) { domain { id } errors { code message field } } }"""
SIGN_OUT_EVERYWHERE = """mutation($input: SignOutEverywhereInput!) {
  signOutEverywhere(input: $input) { sessionsEnded errors { code message field } } }"""

INVITE = """mutation($input: CreateInvitationInput!) {
  createInvitation(input: $input) { invitation { id } errors { code message field } } }"""
REVOKE_INVITATION = """mutation($input: RevokeInvitationInput!) {
  revokeInvitation(input: $input) { invitation { id } errors { code message field } } }"""
REMOVE_FROM_WORKSPACE = """mutation($input: RemoveWorkspaceMemberInput!) {
  removeWorkspaceMember(input: $input) { removedUserId errors { code message field } } }"""
REMOVE_FROM_ORG = """mutation($input: RemoveOrganizationMemberInput!) {
  removeOrganizationMember(input: $input) { removedUserId errors { code message field } } }"""

CREATE_INGESTION_TOKEN = """mutation($input: CreateIngestionTokenInput!) {
  createIngestionToken(input: $input) { ingestionToken { id } errors { code message field } } }"""
REVOKE_INGESTION_TOKEN = """mutation($input: RevokeIngestionTokenInput!) {
  revokeIngestionToken(input: $input) { ingestionToken { id } errors { code message field } } }"""
SUBMIT_FEEDBACK = """mutation($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) { feedback { id } errors { code message field } } }"""
RECALCULATE_HEALTH = """mutation($input: RecalculateHealthInput!) {
  recalculateHealth(input: $input) { touchpoints errors { code message field } } }"""
UPDATE_HEALTH_SETTINGS = """mutation($input: UpdateHealthSettingsInput!) {
  updateHealthSettings(input: $input) { settings { alertBelow } errors { code message field } } }"""
SET_HEALTH_TARGET = """mutation($input: SetHealthTargetInput!) {
  setHealthTarget(input: $input) { settings { targetScore } errors { code message field } } }"""
MARK_REVIEWED = """mutation($input: MarkJourneyMapReviewedInput!) {
  markJourneyMapReviewed(input: $input) { staleness { stale } errors { code message field } } }"""
CREATE_INITIATIVE = """mutation($input: CreateInitiativeInput!) {
  createInitiative(input: $input) { initiative { id } errors { code message field } } }"""
UPDATE_INITIATIVE = """mutation($input: UpdateInitiativeInput!) {
  updateInitiative(input: $input) { initiative { id } errors { code message field } } }"""
DELETE_INITIATIVE = """mutation($input: DeleteInitiativeInput!) {
  deleteInitiative(input: $input) { deletedInitiativeId errors { code message field } } }"""
CREATE_METRIC = """mutation($input: CreateMetricInput!) {
  createMetric(input: $input) { metric { id } errors { code message field } } }"""
UPDATE_METRIC = """mutation($input: UpdateMetricInput!) {
  updateMetric(input: $input) { metric { id } errors { code message field } } }"""
DELETE_METRIC = """mutation($input: DeleteMetricInput!) {
  deleteMetric(input: $input) { deletedMetricId errors { code message field } } }"""
RECORD_METRIC = """mutation($input: RecordMetricValuesInput!) {
  recordMetricValues(input: $input) { recorded errors { code message field } } }"""
PLACE_FEEDBACK = """mutation($input: PlaceFeedbackInput!) {
  placeFeedback(input: $input) { feedback { id } errors { code message field } } }"""
CREATE_SURVEY = """mutation($input: CreateSurveyDefinitionInput!) {
  createSurveyDefinition(input: $input) {
    surveyDefinition { id } errors { code message field } } }"""
REVISE_SURVEY = """mutation($input: ReviseSurveyDefinitionInput!) {
  reviseSurveyDefinition(input: $input) {
    surveyDefinition { id } errors { code message field } } }"""
SUBMIT_FEEDBACK_BATCH = """mutation($input: SubmitFeedbackBatchInput!) {
  submitFeedbackBatch(input: $input) { accepted errors { code message field } } }"""


def feedback_item(s: Setting, external_id: str) -> Json:
    """Feedback on the world's "Pay" touchpoint, naming every link it can."""
    w = s.world
    return {
        "source": "SURVEY",
        "externalId": external_id,
        "measure": "CSAT",
        "measureValue": 2,
        "text": "The card was declined twice",
        "journeyMapId": w.map,
        "stageId": w.buy,
        "touchpointId": w.pay,
        "personaId": w.persona,
    }


CALLS = [
    Call(
        "createWorkspace",
        CREATE_WORKSPACE,
        lambda s: {"organizationId": s.tenant.org_gid, "name": "Read-only client"},
    ),
    Call("updateWorkspace", UPDATE_WORKSPACE, lambda s: {"id": s.world.ws, "name": "Renamed"}),
    Call(
        "addWorkspaceMember",
        ADD_MEMBER,
        lambda s: {"workspaceId": s.world.ws, "email": "ro@x.io", "role": "ADMIN"},
    ),
    Call("createApiToken", CREATE_TOKEN, lambda s: {"name": "minted by a read-only token"}),
    Call("revokeApiToken", REVOKE_TOKEN, lambda s: {"id": s.owner_token_id}),
    Call(
        "createSsoConnection",
        CREATE_CONNECTION,
        lambda s: {
            "organizationId": s.tenant.org_gid,
            "issuer": s.issuer,
            "clientId": "read-only",
            "clientSecret": "read-only-secret",
            "allowedDomains": ["alpha.example"],
        },
    ),
    Call(
        "updateSsoConnection",
        UPDATE_CONNECTION,
        lambda s: {"id": s.sso_connection, "allowedDomains": ["beta.example"]},
    ),
    Call("disableSsoConnection", DISABLE_CONNECTION, lambda s: {"id": s.sso_connection}),
    Call("signOutEverywhere", SIGN_OUT_EVERYWHERE, lambda s: {}),
    Call(
        "claimDomain",
        CLAIM_DOMAIN,
        lambda s: {"organizationId": s.tenant.org_gid, "domain": "gamma.example"},
    ),
    Call("verifyDomain", VERIFY_DOMAIN_INPUT, lambda s: {"id": s.domain}),
    Call("removeDomain", REMOVE_DOMAIN, lambda s: {"id": s.domain}),
    Call(
        "createIngestionToken",
        CREATE_INGESTION_TOKEN,
        lambda s: {"workspaceId": s.world.ws, "name": "read-only"},
    ),
    Call("revokeIngestionToken", REVOKE_INGESTION_TOKEN, lambda s: {"id": s.ingestion_token}),
    Call(
        "submitFeedback",
        SUBMIT_FEEDBACK,
        lambda s: {"workspaceId": s.world.ws, "item": feedback_item(s, "ro-1")},
    ),
    # All or nothing: a refused item then refuses the whole call, in the payload's errors.
    Call(
        "submitFeedbackBatch",
        SUBMIT_FEEDBACK_BATCH,
        lambda s: {
            "workspaceId": s.world.ws,
            "allOrNothing": True,
            "items": [feedback_item(s, "ro-2")],
        },
    ),
    Call(
        "placeFeedback",
        PLACE_FEEDBACK,
        lambda s: {"feedbackId": s.feedback, "touchpointId": s.world.pay},
    ),
    Call(
        "createSurveyDefinition",
        CREATE_SURVEY,
        lambda s: {
            "workspaceId": s.world.ws,
            "key": "ces-checkout",
            "measure": "CES",
            "scaleMin": 1,
            "scaleMax": 7,
        },
    ),
    Call(
        "reviseSurveyDefinition",
        REVISE_SURVEY,
        lambda s: {"id": s.survey_definition, "question": "How easy was it to pay?"},
    ),
    Call("recalculateHealth", RECALCULATE_HEALTH, lambda s: {"workspaceId": s.world.ws}),
    Call(
        "updateHealthSettings",
        UPDATE_HEALTH_SETTINGS,
        lambda s: {"workspaceId": s.world.ws, "alertBelow": 40, "staleAfterDays": 30},
    ),
    Call(
        "setHealthTarget",
        SET_HEALTH_TARGET,
        lambda s: {"workspaceId": s.world.ws, "targetScore": 80},
    ),
    Call("markJourneyMapReviewed", MARK_REVIEWED, lambda s: {"id": s.world.map, "note": "ok"}),
    Call(
        "createInitiative",
        CREATE_INITIATIVE,
        lambda s: {
            "workspaceId": s.world.ws,
            "title": "Save the card",
            "touchpointIds": [s.world.pay],
            "painPointIds": [s.world.pain],
            "targetMetricId": s.world.metric,
        },
    ),
    Call(
        "updateInitiative",
        UPDATE_INITIATIVE,
        lambda s: {"id": s.world.initiative, "status": "IN_PROGRESS", "reach": 2000},
    ),
    Call("deleteInitiative", DELETE_INITIATIVE, lambda s: {"id": s.world.initiative}),
    Call(
        "createMetric",
        CREATE_METRIC,
        lambda s: {
            "workspaceId": s.world.ws,
            "name": "Pay success",
            "direction": "HIGHER_IS_BETTER",
            "touchpointId": s.world.pay,
        },
    ),
    Call("updateMetric", UPDATE_METRIC, lambda s: {"id": s.world.metric, "target": 70}),
    Call("deleteMetric", DELETE_METRIC, lambda s: {"id": s.world.metric}),
    Call(
        "recordMetricValues",
        RECORD_METRIC,
        lambda s: {
            "metricId": s.world.metric,
            "values": [{"value": 55.5, "observedAt": "2026-11-01T00:00:00+00:00"}],
        },
    ),
    Call(
        "createInvitation",
        INVITE,
        lambda s: {"organizationId": s.tenant.org_gid, "email": "ro@x.io", "orgRole": "MEMBER"},
    ),
    Call("revokeInvitation", REVOKE_INVITATION, lambda s: {"id": s.invitation}),
    Call(
        "removeWorkspaceMember",
        REMOVE_FROM_WORKSPACE,
        lambda s: {"workspaceId": s.world.ws, "userId": s.guest},
    ),
    Call(
        "removeOrganizationMember",
        REMOVE_FROM_ORG,
        lambda s: {"organizationId": s.tenant.org_gid, "userId": s.member},
    ),
    *(Call(row.mutation, row.document, lambda s, valid=row.valid: valid(s.world)) for row in ROWS),
]


@pytest_asyncio.fixture(loop_scope="session")
async def setting(
    database: Database, gql: GraphQLClient, tenant_a: Tenant, rogue_idp: RogueIdP
) -> Setting:
    world = await _seed(database, tenant_a)
    tokens = await gql("{ viewer { apiTokens { edges { node { id } } } } }", token=tenant_a.token)
    [owner_token] = tokens["data"]["viewer"]["apiTokens"]["edges"]
    async with database.transaction(tenant_a.binding(), write=True) as session:
        connection = SsoConnection(
            organization_id=tenant_a.organization_id,
            issuer="https://idp.alpha.example",
            client_id="alpha",
            client_secret_encrypted="sealed",
            allowed_domains=["alpha.example"],
            default_role=WorkspaceRole.VIEWER,
            default_workspace_ids=[],
        )
        session.add(connection)
        invitation = Invitation(
            organization_id=tenant_a.organization_id,
            email="pending@x.io",
            org_role=OrgRole.MEMBER,
            secret_hash="0" * 64,
            expires_at=utcnow() + timedelta(days=1),
        )
        session.add(invitation)
        ingestion = IngestionToken(
            ingest_workspace_id=tenant_a.workspace_ids[0],
            name="survey tool",
            prefix="wpin_seeded",
            secret_hash="1" * 64,
        )
        session.add(ingestion)
        survey = _survey(tenant_a.workspace_ids[0])
        feedback = _unplaced(tenant_a.workspace_ids[0], "seeded")
        session.add_all([survey, feedback])
        for verified in ("alpha.example", "beta.example"):  # what the SSO calls admit
            session.add(
                OrganizationDomain(
                    organization_id=tenant_a.organization_id,
                    domain=verified,
                    verification_token=verified,
                    verified_at=utcnow(),
                )
            )
        domain = OrganizationDomain(
            organization_id=tenant_a.organization_id,
            domain="delta.example",
            verification_token="seeded",
        )
        session.add(domain)
    session_dns_server().set_txt(record_name(domain.domain), record_value(domain))
    guest, _ = await add_guest(database, tenant_a.workspace_ids[0], "g@x.io", WorkspaceRole.VIEWER)
    member, _ = await add_guest(database, tenant_a.workspace_ids[1], "m@x.io", WorkspaceRole.VIEWER)
    async with database.transaction(tenant_a.binding(), write=True) as session:
        session.add(
            OrganizationMembership(
                organization_id=tenant_a.organization_id, user_id=member, role=OrgRole.MEMBER
            )
        )
    return Setting(
        tenant=tenant_a,
        world=world,
        owner_token_id=owner_token["node"]["id"],
        sso_connection=global_id("SsoConnection", connection.id),
        issuer=rogue_idp.issuer,
        invitation=global_id("Invitation", invitation.id),
        guest=global_id("User", guest),
        member=global_id("User", member),
        ingestion_token=global_id("IngestionToken", ingestion.id),
        domain=global_id("OrganizationDomain", domain.id),
        survey_definition=global_id("SurveyDefinition", survey.id),
        feedback=global_id("Feedback", feedback.id),
    )


def _survey(workspace_id: UUID) -> SurveyDefinition:
    return SurveyDefinition(
        workspace_id=workspace_id,
        id=uuid4(),
        key="nps-after-pay",
        measure=MeasureKind.NPS,
        scale_min=0,
        scale_max=10,
    )


def _unplaced(workspace_id: UUID, external_id: str) -> Feedback:
    """An item whose match key fits no touchpoint: it waits to be placed."""
    return Feedback(
        workspace_id=workspace_id,
        id=uuid4(),
        source=FeedbackSource.ANALYTICS,
        external_id=external_id,
        text="Paid twice?",
        event_name="nobody-lists-this",
        placement=Placement.UNMATCHED,
        occurred_at=utcnow(),
    )


@pytest_asyncio.fixture(loop_scope="session")
async def read_only(gql: GraphQLClient, setting: Setting) -> str:
    """A read-only token of tenant A's owner, already used once (see ``snapshot``)."""
    created = await gql(
        CREATE_TOKEN, {"input": {"name": "ro", "readOnly": True}}, token=setting.tenant.token
    )
    token = created["data"]["createApiToken"]["token"]
    # Authenticating stamps last_used_at (at most once a minute): do it before any snapshot.
    await gql("{ viewer { user { id } } }", token=token)
    return str(token)


# A token's last use is stamped when it authenticates, at most once a minute: within
# half of that since a world was built, no token of it is stamped again in a test.
MAX_WORLD_AGE = LAST_USED_RESOLUTION.total_seconds() / 2


@dataclass
class Shared:
    """A ``setting`` and its ``read_only`` token, for the tests that ask for ``shared``:
    the next such test may have them if this one left every row as it found it."""

    setting: Setting | None = None
    read_only: str = ""
    rows: Snapshot | None = None
    built_at: float = 0.0
    kept: bool = False

    def reusable(self) -> bool:
        young = time.monotonic() - self.built_at < MAX_WORLD_AGE
        return self.setting is not None and self.kept and young


@pytest.fixture(scope="module")
def worlds() -> Shared:
    return Shared()


@pytest_asyncio.fixture(loop_scope="session")
async def database(
    request: pytest.FixtureRequest,
    shared_database: Database,
    inspector_engine: AsyncEngine,
    worlds: Shared,
) -> Database:
    """Overrides conftest's: the tables are emptied before each test (and after the
    module), not after it, unless the test takes the last one's unchanged world."""
    if "shared" not in request.fixturenames or not worlds.reusable():
        await truncate_all(inspector_engine)
        worlds.setting, worlds.kept = None, False
    return shared_database


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def _empty_afterwards(inspector_engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    await truncate_all(inspector_engine)


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_shared(
    setting: Setting, read_only: str, inspector_engine: AsyncEngine, worlds: Shared
) -> Shared:
    worlds.setting, worlds.read_only = setting, read_only
    worlds.built_at = time.monotonic()
    worlds.rows = await snapshot(inspector_engine)
    return worlds


@pytest_asyncio.fixture(loop_scope="session")
async def _kept_if_unchanged(inspector_engine: AsyncEngine, worlds: Shared) -> AsyncIterator[None]:
    """After the test: every row compared with the world's; only then may it serve again."""
    yield
    unchanged = worlds.setting is not None and await snapshot(inspector_engine) == worlds.rows
    worlds.kept = unchanged


@pytest.fixture
def shared(
    request: pytest.FixtureRequest,
    database: Database,
    worlds: Shared,
    _kept_if_unchanged: None,
) -> Shared:
    """``setting`` and ``read_only`` as the last test that asked for them left them, if it
    changed no row (and they are young), else new ones (``database`` emptied the tables).
    A test that wrote anything (or failed half-way) leaves the next a new world."""
    if worlds.setting is None:
        request.getfixturevalue("fresh_shared")
    worlds.kept = False
    return worlds


async def mutate(gql: GraphQLClient, call: Call, input_: Json, token: str) -> Json:
    body = await gql(call.document, {"input": input_}, token=token)
    return dict(body["data"][call.mutation])


def refusal(payload: Json) -> list[tuple[str, str, str | None]]:
    """The errors of a payload that must carry nothing else."""
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    return [(e["code"], e["message"], e["field"]) for e in payload["errors"]]


def test_every_mutation_has_a_call() -> None:
    assert sorted(call.mutation for call in CALLS) == sorted(MUTATIONS)


@pytest.mark.parametrize("call", [pytest.param(c, id=c.mutation) for c in CALLS])
async def test_read_only_token_is_refused_and_changes_nothing(
    call: Call,
    gql: GraphQLClient,
    inspector_engine: AsyncEngine,
    setting: Setting,
    read_only: str,
) -> None:
    input_ = call.input(setting)
    before = await snapshot(inspector_engine)
    payload = await mutate(gql, call, input_, read_only)
    assert refusal(payload) == [READ_ONLY]
    assert await snapshot(inspector_engine) == before
    # The same input from the owner's full token goes through: only the token said no.
    allowed = await mutate(gql, call, input_, setting.tenant.token)
    assert allowed["errors"] == [], allowed


def minimal(type_: GraphQLInputType) -> Any:
    """The smallest value of a type: required fields only, each with a plain value."""
    if isinstance(type_, GraphQLNonNull):
        return minimal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: minimal(field.type)
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    assert isinstance(type_, GraphQLScalarType), type_
    # An id names nothing at all: nobody may act on it, read-only or not.
    plain = {"ID": global_id("Nothing", uuid4()), "Int": 1, "Float": 0.5, "Boolean": True}
    return plain.get(type_.name, "x")


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_read_only_token_with_a_minimal_input_writes_nothing(
    name: str, gql: GraphQLClient, inspector_engine: AsyncEngine, shared: Shared
) -> None:
    setting, read_only = shared.setting, shared.read_only
    assert setting is not None
    field = MUTATIONS[name]
    [(argument, arg)] = field.args.items()
    document = (
        f"mutation($input: {arg.type}) {{ {name}({argument}: $input) "
        "{ errors { code message field } } }"
    )
    call = Call(name, document, lambda _: minimal(arg.type))
    before = await snapshot(inspector_engine)
    payload = await mutate(gql, call, call.input(setting), read_only)
    codes = {code for code, _, _ in refusal(payload)}
    assert codes, payload
    assert codes <= {"FORBIDDEN", "VALIDATION", "NOT_FOUND"}, payload
    assert await snapshot(inspector_engine) == before


async def test_read_only_token_still_reads(gql: GraphQLClient, shared: Shared) -> None:
    setting, read_only = shared.setting, shared.read_only
    assert setting is not None
    query = """query($ws: ID!, $map: ID!) {
      viewer { workspaces { totalCount } apiTokens { totalCount } }
      workspace(id: $ws) { viewerRole members { totalCount } personas { totalCount }
        auditEvents(first: 1) { totalCount } }
      journeyMap(id: $map) { title stages { name touchpoints { name } } } }"""
    variables = {"ws": setting.world.ws, "map": setting.world.map}
    as_owner = await gql(query, variables, token=setting.tenant.token)
    as_read_only = await gql(query, variables, token=read_only)
    assert as_read_only == as_owner
    assert as_read_only["data"]["workspace"]["viewerRole"] == "ADMIN"
    assert as_read_only["data"]["journeyMap"]["title"] == "Checkout"
