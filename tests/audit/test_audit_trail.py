"""The audit trail end to end: what every mutation records, and that tampering is caught.

Mutations go through the ASGI app over HTTP (so the response's headers can be
read). Rows are read, and tampered with, as a superuser, behind the
application's back; chains are checked by ``verify_scope`` and by the real
``waypost audit`` command run as a process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import RowMapping, Table, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit.chain import GENESIS, event_hash
from backend.audit.verify import verify_scope
from backend.auth.tokens import hash_secret
from backend.crypto.audit_keys import AuditKeyring
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.db.types import utcnow
from backend.models import AccountAuditEvent, ApiToken, AuditEvent, Base, ChainHead
from backend.models.audit import ActorType, AuditScope
from backend.settings import get_settings
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.relay import decode_global_id
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.graphql import global_id
from tests.fixtures.tenants import Tenant, add_guest

WORKSPACE, ORGANIZATION, USER = AuditScope.WORKSPACE, AuditScope.ORGANIZATION, AuditScope.USER
EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
ACCOUNT_EVENTS: Table = AccountAuditEvent.__table__  # type: ignore[assignment]

# What the app under test signs with (the test databases take the process's settings).
KEY = AuditKeyring.from_settings(get_settings()).current

USER_AGENT = "AuditProbe/2.1 (waypost tests; +https://example.test/ua)"
CLIENT_IP = "127.0.0.1"  # what httpx.ASGITransport reports as the client's address

CREATE_WORKSPACE = """mutation($org: ID!, $name: String!) {
  createWorkspace(input: {organizationId: $org, name: $name}) {
    workspace { id } errors { code field } } }"""
ADD_MEMBER = """mutation($ws: ID!, $email: String!, $role: WorkspaceRole!) {
  addWorkspaceMember(input: {workspaceId: $ws, email: $email, role: $role}) {
    member { id } errors { code field } } }"""
CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { apiToken { id prefix } token errors { code field } } }"""
REVOKE_TOKEN = """mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } errors { code field } } }"""


# -- calling the API --------------------------------------------------------------------


@dataclass
class Called:
    payload: dict[str, Any]  # the one mutation field's payload
    request_id: str  # the response's x-request-id
    started: datetime
    finished: datetime


async def mutate(
    client: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any],
    *,
    token: str,
    user_agent: str = USER_AGENT,
    headers: dict[str, str] | None = None,
) -> Called:
    started = utcnow()
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent, **(headers or {})},
    )
    finished = utcnow()
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    [payload] = body["data"].values()
    return Called(payload, response.headers["x-request-id"], started, finished)


def uuid_of(value: str, type_name: str) -> UUID:
    decoded = decode_global_id(value)
    assert decoded is not None, value
    assert decoded[0] == type_name, decoded
    return decoded[1]


# -- reading the trail behind the app ----------------------------------------------------


def _events_of(scope: AuditScope, scope_id: UUID) -> Any:
    if scope is WORKSPACE:
        return select(EVENTS).where(EVENTS.c.workspace_id == scope_id).order_by(EVENTS.c.sequence)
    return (
        select(ACCOUNT_EVENTS)
        .where(ACCOUNT_EVENTS.c.scope == scope, ACCOUNT_EVENTS.c.scope_id == scope_id)
        .order_by(ACCOUNT_EVENTS.c.sequence)
    )


async def chain(owner: AsyncEngine, scope: AuditScope, scope_id: UUID) -> list[RowMapping]:
    async with owner.connect() as conn:
        return list((await conn.execute(_events_of(scope, scope_id))).mappings())


async def event_keys(owner: AsyncEngine) -> set[tuple[AuditScope, UUID, int]]:
    """(scope, scope id, sequence) of every audit event in every chain."""
    async with owner.connect() as conn:
        workspace = await conn.execute(select(EVENTS.c.workspace_id, EVENTS.c.sequence))
        account = await conn.execute(
            select(ACCOUNT_EVENTS.c.scope, ACCOUNT_EVENTS.c.scope_id, ACCOUNT_EVENTS.c.sequence)
        )
        return {(WORKSPACE, ws, seq) for ws, seq in workspace} | {
            (AuditScope(scope), scope_id, seq) for scope, scope_id, seq in account
        }


async def head(owner: AsyncEngine, scope: AuditScope, scope_id: UUID) -> tuple[int, str | None]:
    async with owner.connect() as conn:
        row = (
            await conn.execute(
                select(ChainHead.audit_sequence, ChainHead.audit_hash).where(
                    ChainHead.scope == scope, ChainHead.scope_id == scope_id
                )
            )
        ).one()
        return row[0], row[1]


async def token_id_of(owner: AsyncEngine, plaintext: str) -> UUID:
    async with owner.connect() as conn:
        found = await conn.scalar(
            select(ApiToken.id).where(ApiToken.secret_hash == hash_secret(plaintext))
        )
    assert isinstance(found, UUID)
    return found


async def everything(owner: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table, but when a token was last used: any request may touch that."""
    touched = {"api_tokens.last_used_at", "api_tokens.updated_at"}
    state: dict[str, list[str]] = {}
    async with owner.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if f"{table.name}.{c.name}" not in touched]
            rows = (await conn.execute(select(*columns))).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


def assert_unbroken(scope: AuditScope, scope_id: UUID, events: list[RowMapping]) -> None:
    """Sequences 1..n, each linked to the one before, each matching its own hash."""
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    previous = GENESIS
    for event in events:
        assert event["prev_hash"] == previous, event["sequence"]
        assert event["key_id"] == KEY.id
        assert event["hash"] == event_hash(scope, scope_id, SimpleNamespace(**event), KEY)
        previous = event["hash"]


def assert_made_by(event: RowMapping, user_id: UUID, token_id: UUID, called: Called) -> None:
    assert event["actor_type"] == ActorType.API_TOKEN
    assert event["actor_user_id"] == user_id
    assert event["actor_token_id"] == token_id
    assert event["request_id"] == called.request_id
    assert event["ip"] == CLIENT_IP
    assert event["user_agent"] == USER_AGENT
    assert called.started <= event["occurred_at"] <= called.finished


# -- the waypost command, as a process ------------------------------------------------------

Waypost = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def waypost(test_database: TestDatabase, database: Database) -> Waypost:
    """Runs `waypost …` against the test database (`database`: tables emptied afterwards)."""
    env = {**os.environ, "WAYPOST_DATABASE_URL": test_database.app_url, "WAYPOST_ENV": "test"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backend.entrypoints", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    return run


# == 1. every successful mutation records exactly one event ===================================


async def test_create_workspace_records_one_organization_event_with_actor_request_and_changes(
    client: httpx.AsyncClient, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    org = tenant_a.organization_id
    token_id = await token_id_of(inspector_engine, tenant_a.token)
    for sequence, name in [(2, "Launch"), (3, "Café ☕ 東京")]:  # 1 is organization.create
        before = await event_keys(inspector_engine)
        called = await mutate(
            client, CREATE_WORKSPACE, {"org": tenant_a.org_gid, "name": name}, token=tenant_a.token
        )
        assert called.payload["errors"] == []
        created = uuid_of(called.payload["workspace"]["id"], "Workspace")

        assert await event_keys(inspector_engine) == before | {(ORGANIZATION, org, sequence)}
        event = (await chain(inspector_engine, ORGANIZATION, org))[-1]
        assert event["sequence"] == sequence
        assert event["action"] == "workspace.create"
        assert (event["subject_type"], event["subject_id"]) == ("Workspace", str(created))
        assert event["changes"] == {"name": {"before": None, "after": name}}
        assert_made_by(event, tenant_a.owner_id, token_id, called)
        assert await chain(inspector_engine, WORKSPACE, created) == []  # not the new one's chain

    events = await chain(inspector_engine, ORGANIZATION, org)
    assert [e["action"] for e in events] == ["organization.create", *["workspace.create"] * 2]
    assert_unbroken(ORGANIZATION, org, events)
    assert await head(inspector_engine, ORGANIZATION, org) == (3, events[-1]["hash"])


async def test_adding_and_updating_members_records_workspace_events_in_contiguous_sequence(
    client: httpx.AsyncClient, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    token_id = await token_id_of(inspector_engine, tenant_a.token)

    async def member(
        email: str, role: str, sequence: int, **options: Any
    ) -> tuple[Called, RowMapping]:
        before = await event_keys(inspector_engine)
        called = await mutate(
            client,
            ADD_MEMBER,
            {"ws": tenant_a.ws_gid(0), "email": email, "role": role},
            token=tenant_a.token,
            **options,
        )
        assert called.payload["errors"] == []
        assert await event_keys(inspector_engine) == before | {(WORKSPACE, ws, sequence)}
        return called, (await chain(inspector_engine, WORKSPACE, ws))[-1]

    added, first = await member("ann@example.com", "VIEWER", 1)
    ann = uuid_of(added.payload["member"]["id"], "WorkspaceMember")
    assert first["sequence"] == 1
    assert first["action"] == "workspace_member.add"
    assert (first["subject_type"], first["subject_id"]) == ("WorkspaceMember", str(ann))
    assert first["changes"] == {
        "email": {"before": None, "after": "ann@example.com"},
        "role": {"before": None, "after": "VIEWER"},
    }
    assert_made_by(first, tenant_a.owner_id, token_id, added)

    other, second = await member("bob@example.com", "EDITOR", 2)
    assert second["sequence"] == 2
    assert second["subject_id"] == str(uuid_of(other.payload["member"]["id"], "WorkspaceMember"))

    updated, third = await member(
        "ann@example.com",
        "ADMIN",
        3,
        user_agent="SecondClient/9",
        headers={"X-Request-Id": "trace-from-the-caller.42"},
    )
    # The caller's id is not ours to record: the server names the request.
    assert updated.request_id != "trace-from-the-caller.42"
    assert third["sequence"] == 3
    assert third["action"] == "workspace_member.update"
    assert third["subject_id"] == str(ann)
    assert third["changes"] == {"role": {"before": "VIEWER", "after": "ADMIN"}}  # email unchanged
    assert third["request_id"] == updated.request_id
    assert third["user_agent"] == "SecondClient/9"

    assert_unbroken(WORKSPACE, ws, await chain(inspector_engine, WORKSPACE, ws))
    assert await chain(inspector_engine, WORKSPACE, tenant_a.workspace_ids[1]) == []


async def test_creating_and_revoking_tokens_records_user_events_and_never_the_secret(
    client: httpx.AsyncClient, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    me = tenant_a.owner_id
    bootstrap_token = await token_id_of(inspector_engine, tenant_a.token)
    before = await event_keys(inspector_engine)
    created = await mutate(
        client,
        CREATE_TOKEN,
        {"input": {"name": "ci", "workspaceId": tenant_a.ws_gid(0), "expiresInDays": 30}},
        token=tenant_a.token,
    )
    assert created.payload["errors"] == []
    secret = created.payload["token"]
    new_token = uuid_of(created.payload["apiToken"]["id"], "ApiToken")
    assert await event_keys(inspector_engine) == before | {(USER, me, 1)}

    [event] = await chain(inspector_engine, USER, me)
    assert event["action"] == "api_token.create"
    assert (event["subject_type"], event["subject_id"]) == ("ApiToken", str(new_token))
    changes = event["changes"]
    assert set(changes) == {"name", "prefix", "workspace_id", "read_only", "expires_at"}
    assert changes["name"] == {"before": None, "after": "ci"}
    assert changes["prefix"] == {"before": None, "after": created.payload["apiToken"]["prefix"]}
    assert changes["workspace_id"] == {"before": None, "after": str(tenant_a.workspace_ids[0])}
    assert changes["read_only"] == {"before": None, "after": False}
    expires = datetime.fromisoformat(changes["expires_at"]["after"])
    assert abs(expires - (event["occurred_at"] + timedelta(days=30))) < timedelta(minutes=1)
    assert_made_by(event, me, bootstrap_token, created)

    # The new token revokes itself: the actor is that token, not the user's first one.
    before = await event_keys(inspector_engine)
    revoked = await mutate(
        client, REVOKE_TOKEN, {"id": global_id("ApiToken", new_token)}, token=secret
    )
    assert revoked.payload["errors"] == []
    assert await event_keys(inspector_engine) == before | {(USER, me, 2)}
    events = await chain(inspector_engine, USER, me)
    event = events[-1]
    assert event["action"] == "api_token.revoke"
    assert event["subject_id"] == str(new_token)
    revoked_at = datetime.fromisoformat(revoked.payload["apiToken"]["revokedAt"])
    [(field, change)] = event["changes"].items()
    assert field == "revoked_at"
    assert change["before"] is None
    assert datetime.fromisoformat(change["after"]) == revoked_at
    assert_made_by(event, me, new_token, revoked)
    assert_unbroken(USER, me, events)

    # Neither secret, nor what follows its public prefix, is anywhere in the trail.
    async with inspector_engine.connect() as conn:
        rows = [
            *(await conn.execute(select(EVENTS))).mappings(),
            *(await conn.execute(select(ACCOUNT_EVENTS))).mappings(),
        ]
    trail = json.dumps([dict(row) for row in rows], default=str)
    shown = len(created.payload["apiToken"]["prefix"])  # every token shows this much
    for plaintext in (secret, tenant_a.token):
        assert plaintext not in trail
        assert plaintext[shown:] not in trail


# == 2. a failed mutation writes nothing =======================================================


@dataclass
class Callers:
    owner: str
    editor: str  # EDITOR guest of the tenant's first workspace
    read_only: str
    others_token: str  # a global id of another tenant's token


@pytest_asyncio.fixture(loop_scope="session")
async def callers(
    client: httpx.AsyncClient,
    database: Database,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> Callers:
    _, editor = await add_guest(
        database, tenant_a.workspace_ids[0], "ed@example.com", WorkspaceRole.EDITOR
    )
    read_only = await mutate(
        client, CREATE_TOKEN, {"input": {"name": "ro", "readOnly": True}}, token=tenant_a.token
    )
    others = await token_id_of(inspector_engine, tenant_b.token)
    return Callers(
        tenant_a.token, editor, read_only.payload["token"], global_id("ApiToken", others)
    )


FAILURES: dict[str, tuple[str, str, Callable[[Tenant, Tenant, Callers], dict[str, Any]], str]] = {
    # name: (document, caller, variables, expected code)
    "blank workspace name": (
        CREATE_WORKSPACE,
        "owner",
        lambda a, _b, _c: {"org": a.org_gid, "name": "   "},
        "VALIDATION",
    ),
    "duplicate workspace name": (
        CREATE_WORKSPACE,
        "owner",
        lambda a, _b, _c: {"org": a.org_gid, "name": "alpha client 1"},
        "VALIDATION",
    ),
    "malformed member email": (
        ADD_MEMBER,
        "owner",
        lambda a, _b, _c: {"ws": a.ws_gid(0), "email": "not-an-email", "role": "VIEWER"},
        "VALIDATION",
    ),
    "token lifetime out of range": (
        CREATE_TOKEN,
        "owner",
        lambda _a, _b, _c: {"input": {"name": "x", "expiresInDays": 0}},
        "VALIDATION",
    ),
    "member in another tenant's workspace": (
        ADD_MEMBER,
        "owner",
        lambda _a, b, _c: {"ws": b.ws_gid(0), "email": "x@example.com", "role": "ADMIN"},
        "NOT_FOUND",
    ),
    "revoking another tenant's token": (
        REVOKE_TOKEN,
        "owner",
        lambda _a, _b, c: {"id": c.others_token},
        "NOT_FOUND",
    ),
    "editor adding a member": (
        ADD_MEMBER,
        "editor",
        lambda a, _b, _c: {"ws": a.ws_gid(0), "email": "x@example.com", "role": "ADMIN"},
        "FORBIDDEN",
    ),
    "workspace guest creating a workspace": (
        CREATE_WORKSPACE,
        "editor",
        lambda a, _b, _c: {"org": a.org_gid, "name": "Sneaky"},
        "FORBIDDEN",
    ),
    "read-only token creating a token": (
        CREATE_TOKEN,
        "read_only",
        lambda _a, _b, _c: {"input": {"name": "escalate"}},
        "FORBIDDEN",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_failed_mutation_records_no_event_and_changes_nothing(
    client: httpx.AsyncClient,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
    tenant_b: Tenant,
    callers: Callers,
    case: str,
) -> None:
    document, caller, variables, code = FAILURES[case]
    token = getattr(callers, caller)
    before = await everything(inspector_engine)
    called = await mutate(client, document, variables(tenant_a, tenant_b, callers), token=token)
    assert [e["code"] for e in called.payload["errors"]] == [code]
    assert await everything(inspector_engine) == before


# == 3. concurrent writers share one unbroken chain ============================================


async def test_fifty_concurrent_member_additions_form_one_unbroken_chain(
    client: httpx.AsyncClient,
    database: Database,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
    waypost: Waypost,
) -> None:
    ws = tenant_a.workspace_ids[0]
    calls = await asyncio.gather(
        *(
            mutate(
                client,
                ADD_MEMBER,
                {"ws": tenant_a.ws_gid(0), "email": f"member{n:02d}@example.com", "role": "VIEWER"},
                token=tenant_a.token,
            )
            for n in range(50)
        )
    )
    assert [c.payload["errors"] for c in calls] == [[]] * 50

    events = await chain(inspector_engine, WORKSPACE, ws)
    assert [e["sequence"] for e in events] == list(range(1, 51))
    assert_unbroken(WORKSPACE, ws, events)
    assert {e["subject_id"] for e in events} == {
        str(uuid_of(c.payload["member"]["id"], "WorkspaceMember")) for c in calls
    }
    assert {e["request_id"] for e in events} == {c.request_id for c in calls}
    assert await head(inspector_engine, WORKSPACE, ws) == (50, events[-1]["hash"])

    async with database.transaction(TenantBinding(frozenset({ws}))) as session:
        report = await verify_scope(session, WORKSPACE, ws)
    assert report.ok, report.problem
    assert (report.checked, report.last_sequence, report.last_hash) == (50, 50, events[-1]["hash"])

    done = waypost("audit", "verify", "--workspace", str(ws))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok      workspace {ws}: 50 events" in done.stdout
    assert "1 chains checked, 0 broken" in done.stdout


# == 4. tampering behind the application's back is detected =================================

CHAIN_LENGTH = 5


@pytest_asyncio.fixture(loop_scope="session")
async def member_chain(client: httpx.AsyncClient, tenant_a: Tenant) -> UUID:
    """Workspace 0 of tenant A with a chain of five workspace_member.add events."""
    for n in range(1, CHAIN_LENGTH + 1):
        called = await mutate(
            client,
            ADD_MEMBER,
            {"ws": tenant_a.ws_gid(0), "email": f"m{n}@example.com", "role": "VIEWER"},
            token=tenant_a.token,
        )
        assert called.payload["errors"] == []
    return tenant_a.workspace_ids[0]


def _where(ws: UUID, sequence: int) -> Any:
    return (EVENTS.c.workspace_id == ws) & (EVENTS.c.sequence == sequence)


async def _forge(owner: AsyncEngine, ws: UUID, sequence: int, prev_hash: str) -> None:
    """A well-formed event, signed with the application's own key, linked to ``prev_hash``:
    even someone holding the key cannot insert or append without it showing."""
    fields: dict[str, Any] = {
        "sequence": sequence,
        "occurred_at": utcnow(),
        "actor_type": ActorType.SYSTEM,
        "actor_user_id": None,
        "actor_token_id": None,
        "action": "workspace_member.add",
        "subject_type": "WorkspaceMember",
        "subject_id": str(uuid4()),
        "changes": {
            "email": {"before": None, "after": "intruder@example.com"},
            "role": {"before": None, "after": "ADMIN"},
        },
        "request_id": None,
        "ip": None,
        "user_agent": None,
        "prev_hash": prev_hash,
        "key_id": KEY.id,
    }
    fields["hash"] = event_hash(WORKSPACE, ws, SimpleNamespace(**fields), KEY)
    async with owner.begin() as conn:
        await conn.execute(insert(EVENTS).values(workspace_id=ws, id=uuid4(), **fields))


async def _hash_of(owner: AsyncEngine, ws: UUID, sequence: int) -> str:
    async with owner.connect() as conn:
        found = await conn.scalar(select(EVENTS.c.hash).where(_where(ws, sequence)))
    assert isinstance(found, str)
    return found


async def edit_changes_of_middle_event(owner: AsyncEngine, ws: UUID) -> None:
    escalated = {
        "email": {"before": None, "after": "m3@example.com"},
        "role": {"before": None, "after": "ADMIN"},
    }
    async with owner.begin() as conn:
        await conn.execute(update(EVENTS).where(_where(ws, 3)).values(changes=escalated))


async def edit_action_of_middle_event(owner: AsyncEngine, ws: UUID) -> None:
    async with owner.begin() as conn:
        await conn.execute(
            update(EVENTS).where(_where(ws, 3)).values(action="workspace_member.update")
        )


async def delete_middle_event(owner: AsyncEngine, ws: UUID) -> None:
    async with owner.begin() as conn:
        await conn.execute(delete(EVENTS).where(_where(ws, 3)))


async def delete_first_event(owner: AsyncEngine, ws: UUID) -> None:
    async with owner.begin() as conn:
        await conn.execute(delete(EVENTS).where(_where(ws, 1)))


async def delete_last_event(owner: AsyncEngine, ws: UUID) -> None:
    async with owner.begin() as conn:
        await conn.execute(delete(EVENTS).where(_where(ws, CHAIN_LENGTH)))


async def append_forged_event(owner: AsyncEngine, ws: UUID) -> None:
    last = await _hash_of(owner, ws, CHAIN_LENGTH)
    await _forge(owner, ws, CHAIN_LENGTH + 1, prev_hash=last)


async def insert_forged_event_renumbering_the_rest(owner: AsyncEngine, ws: UUID) -> None:
    """Slip an event in at 3 and move 3..5 to 4..6, so the sequence has no gap."""
    second = await _hash_of(owner, ws, 2)
    later = (EVENTS.c.workspace_id == ws) & (EVENTS.c.sequence >= 3)
    async with owner.begin() as conn:  # in two steps: (workspace_id, sequence) is unique
        await conn.execute(update(EVENTS).where(later).values(sequence=EVENTS.c.sequence + 1000))
        await conn.execute(update(EVENTS).where(later).values(sequence=EVENTS.c.sequence - 999))
    await _forge(owner, ws, 3, prev_hash=second)


async def rewrite_last_event_with_a_valid_hash(owner: AsyncEngine, ws: UUID) -> None:
    """Edit the last event and sign it again (with the key): no later event links to it,
    only the head."""
    [last] = [e for e in await chain(owner, WORKSPACE, ws) if e["sequence"] == CHAIN_LENGTH]
    forged = dict(last, changes={"role": {"before": None, "after": "ADMIN"}})
    forged["hash"] = event_hash(WORKSPACE, ws, SimpleNamespace(**forged), KEY)
    async with owner.begin() as conn:
        await conn.execute(
            update(EVENTS)
            .where(_where(ws, CHAIN_LENGTH))
            .values(changes=forged["changes"], hash=forged["hash"])
        )


Tamper = Callable[[AsyncEngine, UUID], Awaitable[None]]
TAMPERING = [
    # how, the first broken event, what the verifier says about it
    pytest.param(edit_changes_of_middle_event, 3, "event 3 was changed after writing"),
    pytest.param(edit_action_of_middle_event, 3, "event 3 was changed after writing"),
    pytest.param(delete_middle_event, 3, "event 3 is missing"),
    pytest.param(delete_first_event, 1, "event 1 is missing"),
    pytest.param(delete_last_event, 5, "its head records event 5"),
    pytest.param(append_forged_event, 6, "its head records event 5"),
    pytest.param(insert_forged_event_renumbering_the_rest, 4, "event 4 does not link"),
    pytest.param(
        rewrite_last_event_with_a_valid_hash, 5, "event 5 is not the one the chain head recorded"
    ),
]


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    TAMPERING,
    ids=[param.values[0].__name__ for param in TAMPERING],  # type: ignore[union-attr]
)
async def test_tampering_with_a_workspace_chain_is_reported_at_the_first_broken_event(
    member_chain: UUID,
    database: Database,
    inspector_engine: AsyncEngine,
    waypost: Waypost,
    tamper: Tamper,
    broken_at: int,
    problem: str,
) -> None:
    ws = member_chain
    binding = TenantBinding(frozenset({ws}))
    async with database.transaction(binding) as session:
        assert (await verify_scope(session, WORKSPACE, ws)).ok  # sound before
    await tamper(inspector_engine, ws)

    async with database.transaction(binding) as session:
        report = await verify_scope(session, WORKSPACE, ws)
    assert (report.ok, report.broken_at) == (False, broken_at), report
    assert report.problem is not None
    assert problem in report.problem

    done = waypost("audit", "verify", "--workspace", str(ws))
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("BROKEN")]
    assert line.startswith(f"BROKEN  workspace {ws}: at event {broken_at}: ")
    assert problem in line
    assert "1 chains checked, 1 broken" in done.stdout


async def test_rewriting_history_and_rehashing_every_later_event_is_still_detected(
    member_chain: UUID, database: Database, inspector_engine: AsyncEngine
) -> None:
    """A forger holding the key re-signs the tail; only the chain's head gives it away."""
    ws = member_chain
    events = await chain(inspector_engine, WORKSPACE, ws)
    previous = events[1]["hash"]
    async with inspector_engine.begin() as conn:
        for event in events[2:]:
            forged = dict(event, prev_hash=previous)
            if event["sequence"] == 3:
                forged["changes"] = {"role": {"before": None, "after": "ADMIN"}}
            forged["hash"] = event_hash(WORKSPACE, ws, SimpleNamespace(**forged), KEY)
            await conn.execute(
                update(EVENTS)
                .where(_where(ws, event["sequence"]))
                .values(changes=forged["changes"], prev_hash=previous, hash=forged["hash"])
            )
            previous = forged["hash"]

    assert_unbroken(WORKSPACE, ws, await chain(inspector_engine, WORKSPACE, ws))  # links all hold

    async with database.transaction(TenantBinding(frozenset({ws}))) as session:
        report = await verify_scope(session, WORKSPACE, ws)
    assert not report.ok
    assert report.checked == CHAIN_LENGTH


async def test_organization_chain_is_verified_and_tampering_with_it_is_detected(
    client: httpx.AsyncClient, inspector_engine: AsyncEngine, tenant_a: Tenant, waypost: Waypost
) -> None:
    org = tenant_a.organization_id
    for name in ("Second", "Third"):
        called = await mutate(
            client, CREATE_WORKSPACE, {"org": tenant_a.org_gid, "name": name}, token=tenant_a.token
        )
        assert called.payload["errors"] == []

    done = waypost("audit", "verify", "--organization", str(org))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok      organization {org}: 3 events" in done.stdout

    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(ACCOUNT_EVENTS)
            .where(
                ACCOUNT_EVENTS.c.scope == ORGANIZATION,
                ACCOUNT_EVENTS.c.scope_id == org,
                ACCOUNT_EVENTS.c.sequence == 2,
            )
            .values(subject_id=str(uuid4()))
        )
    done = waypost("audit", "verify", "--organization", str(org))
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"BROKEN  organization {org}: at event 2: event 2 was changed after writing" in done.stdout
    )


async def test_verify_without_flags_checks_every_chain_and_exits_1_if_any_is_broken(
    client: httpx.AsyncClient,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
    tenant_b: Tenant,
    waypost: Waypost,
) -> None:
    await mutate(
        client,
        ADD_MEMBER,
        {"ws": tenant_a.ws_gid(0), "email": "ann@example.com", "role": "VIEWER"},
        token=tenant_a.token,
    )
    await mutate(client, CREATE_TOKEN, {"input": {"name": "ci"}}, token=tenant_b.token)
    # Four workspaces, two organizations, tenant B's owner's own account.
    chains = [
        *(f"workspace {ws}" for t in (tenant_a, tenant_b) for ws in t.workspace_ids),
        *(f"organization {t.organization_id}" for t in (tenant_a, tenant_b)),
        f"user {tenant_b.owner_id}",
    ]

    done = waypost("audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in chains:
        assert f"ok      {name}: " in done.stdout
    assert f"{len(chains)} chains checked, 0 broken" in done.stdout

    async with inspector_engine.begin() as conn:  # the only event of B's owner's own chain
        await conn.execute(
            update(ACCOUNT_EVENTS)
            .where(ACCOUNT_EVENTS.c.scope == USER, ACCOUNT_EVENTS.c.scope_id == tenant_b.owner_id)
            .values(changes={"name": {"before": None, "after": "innocent"}})
        )
    done = waypost("audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"BROKEN  user {tenant_b.owner_id}: at event 1: " in done.stdout
    assert done.stdout.count("BROKEN") == 1
    assert f"{len(chains)} chains checked, 1 broken" in done.stdout


# == 5. the application role can append and read, never rewrite ===============================

postgres_only = pytest.mark.skipif(
    not is_postgres_run(), reason="table privileges exist only on Postgres (SQLite has no roles)"
)


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "update audit_events set action = 'x'",
        "delete from audit_events",
        "update account_audit_events set action = 'x'",
        "delete from account_audit_events",
    ],
)
async def test_application_role_is_refused_update_and_delete_on_audit_events(
    member_chain: UUID, database: Database, inspector_engine: AsyncEngine, statement: str
) -> None:
    before = await everything(inspector_engine)
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.transaction(
            TenantBinding(frozenset({member_chain})), write=True
        ) as session:
            await session.execute(text(statement))
    assert await everything(inspector_engine) == before


@postgres_only
async def test_application_role_inserts_and_reads_audit_events_through_the_normal_path(
    member_chain: UUID, database: Database, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    # member_chain's events were inserted by the application, as waypost_app.
    async with database.transaction(TenantBinding(frozenset({member_chain}))) as session:
        assert await session.scalar(text("select current_user")) == "waypost_app"
        mine = (await session.scalars(select(AuditEvent).order_by(AuditEvent.sequence))).all()
    assert [e.hash for e in mine] == [
        e["hash"] for e in await chain(inspector_engine, WORKSPACE, member_chain)
    ]
    assert len(mine) == CHAIN_LENGTH
    async with database.transaction(NO_TENANT) as session:
        account = (await session.scalars(select(AccountAuditEvent))).all()
    assert [(e.scope, e.scope_id, e.action) for e in account] == [
        (ORGANIZATION, tenant_a.organization_id, "organization.create")
    ]


# == 6. export ==================================================================================


async def test_export_writes_the_chain_as_ndjson_in_sequence_order_matching_the_rows(
    client: httpx.AsyncClient,
    member_chain: UUID,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
    waypost: Waypost,
) -> None:
    ws = member_chain
    # Another workspace's event must stay out; and the first event is rewritten in
    # place (same values) so that storage order no longer matches sequence order.
    await mutate(
        client,
        ADD_MEMBER,
        {"ws": tenant_a.ws_gid(1), "email": "elsewhere@example.com", "role": "VIEWER"},
        token=tenant_a.token,
    )
    async with inspector_engine.begin() as conn:
        await conn.execute(update(EVENTS).where(_where(ws, 1)).values(action=EVENTS.c.action))

    done = waypost("audit", "export", "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == CHAIN_LENGTH
    documents = [json.loads(line) for line in lines]
    rows = await chain(inspector_engine, WORKSPACE, ws)
    assert [d["sequence"] for d in documents] == list(range(1, CHAIN_LENGTH + 1))
    previous = GENESIS
    for document, row in zip(documents, rows, strict=True):
        assert document == {
            "scope": "WORKSPACE",
            "scope_id": str(ws),
            "sequence": row["sequence"],
            "occurred_at": document["occurred_at"],
            "actor": {
                "type": "API_TOKEN",
                "user_id": str(row["actor_user_id"]),
                "token_id": str(row["actor_token_id"]),
            },
            "action": row["action"],
            "subject": {"type": row["subject_type"], "id": row["subject_id"]},
            "changes": row["changes"],
            "request_id": row["request_id"],
            "ip": row["ip"],
            "user_agent": row["user_agent"],
            "prev_hash": previous,
            "hash": row["hash"],
            "key_id": KEY.id,
        }
        assert datetime.fromisoformat(document["occurred_at"]) == row["occurred_at"]
        previous = document["hash"]
