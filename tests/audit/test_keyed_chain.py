"""Keyed audit chains: someone with the database but not the key cannot rewrite history.

The attacker is the tables' owner (on SQLite: anyone who can write the file). They
edit an event, then recompute every later link and the chain's head, with plain
SHA-256 as the chain used to be hashed, or with HMAC under a key of their own. The
real `waypost audit verify` command, run as a process, must report the event and
exit 1. Keys rotate: events signed under a retired key verify while that key is
listed as retired. Chains written before keys existed still verify after the
upgrade, and unkeyed events forged afterwards do not.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import RowMapping, Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.audit.verify import verify_workspace_increment
from backend.crypto.audit_keys import AuditKeyring
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.entrypoints.app import create_app
from backend.entrypoints.migrate import upgrade
from backend.models import AccountAuditEvent, AuditEvent, AuditVerification, ChainHead
from backend.models.audit import AuditScope
from backend.settings import Environment, Settings, get_settings
from tests.conftest import make_database
from tests.db.test_migrations import scratch_database  # noqa: F401 - fixture
from tests.fixtures.databases import TestDatabase
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

WORKSPACE, ORGANIZATION = AuditScope.WORKSPACE, AuditScope.ORGANIZATION
EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
ACCOUNT_EVENTS: Table = AccountAuditEvent.__table__  # type: ignore[assignment]
HEADS: Table = ChainHead.__table__  # type: ignore[assignment]
KEY = AuditKeyring.from_settings(get_settings()).current  # what the app under test signs with
GENESIS = "0" * 64
CHAIN_LENGTH = 5

ADD_MEMBER = """mutation($ws: ID!, $email: String!) {
  addWorkspaceMember(input: {workspaceId: $ws, email: $email, role: VIEWER}) {
    member { id } errors { code field } } }"""


# -- the attacker's arithmetic: the chain's documented form, hashed by hand --------------------


def document(scope: str, scope_id: UUID, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "scope": str(scope),
        "scope_id": str(scope_id),
        "sequence": row["sequence"],
        "occurred_at": row["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_type": str(row["actor_type"]),
        "actor_user_id": str(row["actor_user_id"]) if row["actor_user_id"] else None,
        "actor_token_id": str(row["actor_token_id"]) if row["actor_token_id"] else None,
        "action": row["action"],
        "subject_type": row["subject_type"],
        "subject_id": row["subject_id"],
        "changes": row["changes"],
        "request_id": row["request_id"],
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "prev_hash": row["prev_hash"],
    }


def canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plain_sha256(scope: str, scope_id: UUID, row: dict[str, Any]) -> str:
    """How every event was hashed before chains were keyed."""
    return hashlib.sha256(canonical(document(scope, scope_id, row))).hexdigest()


def hmac_under(secret: bytes, key_id: str) -> Callable[[str, UUID, dict[str, Any]], str]:
    def sign(scope: str, scope_id: UUID, row: dict[str, Any]) -> str:
        signed = {**document(scope, scope_id, row), "key_id": key_id}
        return hmac.new(secret, canonical(signed), hashlib.sha256).hexdigest()

    return sign


WRONG = AuditKeyring.from_material("an attacker's own key, never configured anywhere").current


# -- the real command, as a process ---------------------------------------------------------

Waypost = Callable[..., subprocess.CompletedProcess[str]]


def run_waypost(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "WAYPOST_DATABASE_URL": database_url,
        "WAYPOST_ENV": "test",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "backend.entrypoints", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def waypost(test_database: TestDatabase, database: Database) -> Waypost:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_waypost(test_database.app_url, *args, **env)

    return run


def assert_broken(done: subprocess.CompletedProcess[str], name: str, at: int, problem: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("BROKEN")]
    assert line.startswith(f"BROKEN  {name}: at event {at}: "), line
    assert problem in line, line


# -- reading and rewriting behind the app ----------------------------------------------------


async def workspace_chain(owner: AsyncEngine, ws: UUID) -> list[RowMapping]:
    async with owner.connect() as conn:
        statement = select(EVENTS).where(EVENTS.c.workspace_id == ws).order_by(EVENTS.c.sequence)
        return list((await conn.execute(statement)).mappings())


async def add_members(gql: GraphQLClient, tenant: Tenant, emails: list[str]) -> None:
    for email in emails:
        body = await gql(ADD_MEMBER, {"ws": tenant.ws_gid(0), "email": email}, token=tenant.token)
        assert body["data"]["addWorkspaceMember"]["errors"] == []


async def rewrite_from(
    owner: AsyncEngine,
    ws: UUID,
    first: int,
    sign: Callable[[str, UUID, dict[str, Any]], str],
    key_id: str | None,
) -> None:
    """Make event 3 grant ADMIN, then re-link every event from ``first`` on, and the head."""
    events = await workspace_chain(owner, ws)
    previous = GENESIS if first == 1 else events[first - 2]["hash"]
    async with owner.begin() as conn:
        for event in events[first - 1 :]:
            row = dict(event, prev_hash=previous)
            if event["sequence"] == 3:
                row["changes"] = {
                    "email": {"before": None, "after": "m3@example.com"},
                    "role": {"before": None, "after": "ADMIN"},
                }
            row["key_id"] = key_id or event["key_id"]
            row["hash"] = sign(WORKSPACE, ws, row)
            await conn.execute(
                update(EVENTS)
                .where(EVENTS.c.workspace_id == ws, EVENTS.c.sequence == event["sequence"])
                .values(
                    changes=row["changes"],
                    prev_hash=row["prev_hash"],
                    hash=row["hash"],
                    key_id=row["key_id"],
                )
            )
            previous = row["hash"]
        await conn.execute(
            update(HEADS)
            .where(HEADS.c.scope == WORKSPACE, HEADS.c.scope_id == ws)
            .values(audit_sequence=len(events), audit_hash=previous)
        )


REWRITES = [
    # what the attacker signs with, the label they give it, from which event on; what is said
    pytest.param(plain_sha256, None, 3, 3, "event 3 was changed after writing", id="plain-sha256"),
    pytest.param(
        plain_sha256,
        "sha256",
        3,
        3,
        "event 3 is unkeyed but follows keyed events",
        id="plain-sha256-labelled-unkeyed",
    ),
    pytest.param(
        plain_sha256,
        "sha256",
        1,
        1,
        "events 1 to 5 are unkeyed and no keyed seal follows",
        id="plain-sha256-whole-chain-labelled-unkeyed",
    ),
    pytest.param(
        hmac_under(WRONG.secret, KEY.id),
        None,
        3,
        3,
        "event 3 was changed after writing",
        id="hmac-wrong-key-current-key-id",
    ),
    pytest.param(
        hmac_under(WRONG.secret, WRONG.id),
        WRONG.id,
        3,
        3,
        f"event 3 is signed with key '{WRONG.id}', neither the current audit key nor a retired",
        id="hmac-wrong-key-its-own-id",
    ),
]


@pytest.mark.parametrize(("sign", "key_id", "first", "broken_at", "problem"), REWRITES)
async def test_an_owner_who_edits_an_event_and_recomputes_the_chain_is_caught(
    gql: GraphQLClient,
    inspector_engine: AsyncEngine,
    tenant_a: Tenant,
    waypost: Waypost,
    sign: Callable[[str, UUID, dict[str, Any]], str],
    key_id: str | None,
    first: int,
    broken_at: int,
    problem: str,
) -> None:
    ws = tenant_a.workspace_ids[0]
    await add_members(gql, tenant_a, [f"m{n}@example.com" for n in range(1, CHAIN_LENGTH + 1)])

    await rewrite_from(inspector_engine, ws, first, sign, key_id)

    # The forgery is internally whole: every link holds and the head names the last event.
    events = await workspace_chain(inspector_engine, ws)
    assert [e["prev_hash"] for e in events] == [GENESIS, *(e["hash"] for e in events[:-1])]
    assert events[2]["changes"]["role"]["after"] == "ADMIN"
    async with inspector_engine.connect() as conn:
        head = (
            await conn.execute(
                select(HEADS.c.audit_sequence, HEADS.c.audit_hash).where(HEADS.c.scope_id == ws)
            )
        ).one()
    assert tuple(head) == (CHAIN_LENGTH, events[-1]["hash"])

    done = waypost("audit", "verify", "--workspace", str(ws))
    assert_broken(done, f"workspace {ws}", broken_at, problem)
    assert "1 chains checked, 1 broken" in done.stdout


# -- rotation ------------------------------------------------------------------------------

OLD_KEY = "the audit key before the rotation, 32+ characters long"
NEW_KEY = "the audit key after the rotation, also 32+ characters"


async def add_members_signed_with(
    test_database: TestDatabase, material: str, tenant: Tenant, emails: list[str]
) -> None:
    """Mutations through an API process whose audit key is ``material``."""
    settings = Settings(
        env=Environment.TEST, database_url=test_database.app_url, audit_key=material
    )
    db = make_database(test_database, audit_keys=AuditKeyring.from_settings(settings))
    try:
        transport = httpx.ASGITransport(app=create_app(settings, database=db))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await add_members(GraphQLClient(http), tenant, emails)
    finally:
        await db.dispose()


async def test_events_signed_before_a_rotation_verify_only_while_the_old_key_is_retired(
    test_database: TestDatabase, inspector_engine: AsyncEngine, tenant_a: Tenant, waypost: Waypost
) -> None:
    ws = tenant_a.workspace_ids[0]
    old, new = (AuditKeyring.from_material(m).current for m in (OLD_KEY, NEW_KEY))
    await add_members_signed_with(test_database, OLD_KEY, tenant_a, ["a@example.com", "b@x.io"])
    await add_members_signed_with(test_database, NEW_KEY, tenant_a, ["c@example.com", "d@x.io"])
    events = await workspace_chain(inspector_engine, ws)
    assert [e["key_id"] for e in events] == [old.id, old.id, new.id, new.id]

    rotated = waypost(
        "audit",
        "verify",
        "--workspace",
        str(ws),
        WAYPOST_AUDIT_KEY=NEW_KEY,
        WAYPOST_AUDIT_RETIRED_KEYS=json.dumps([OLD_KEY]),
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert f"ok      workspace {ws}: 4 events" in rotated.stdout

    forgotten = waypost("audit", "verify", "--workspace", str(ws), WAYPOST_AUDIT_KEY=NEW_KEY)
    assert_broken(
        forgotten, f"workspace {ws}", 1, f"event 1 is signed with key '{old.id}', neither"
    )

    not_yet = waypost("audit", "verify", "--workspace", str(ws), WAYPOST_AUDIT_KEY=OLD_KEY)
    assert_broken(not_yet, f"workspace {ws}", 3, f"event 3 is signed with key '{new.id}'")


async def test_a_short_audit_key_is_refused() -> None:
    with pytest.raises(ValueError, match="WAYPOST_AUDIT_KEY is shorter than 32 characters"):
        Settings(audit_key="short")


# -- chains written before keys -----------------------------------------------------------------


async def write_unkeyed_chain(
    owner: AsyncEngine, scope: AuditScope, scope_id: UUID, length: int
) -> list[str]:
    """Events as they were written before chains were keyed: no key id, plain SHA-256."""
    previous, hashes = GENESIS, []
    start = datetime.now(UTC) - timedelta(days=30)
    async with owner.begin() as conn:
        for sequence in range(1, length + 1):
            row: dict[str, Any] = {
                "sequence": sequence,
                "occurred_at": start + timedelta(hours=sequence),
                "actor_type": "SYSTEM",
                "actor_user_id": None,
                "actor_token_id": None,
                "action": "workspace.rename",
                "subject_type": "Workspace",
                "subject_id": str(uuid4()),
                "changes": {"name": {"before": f"v{sequence - 1}", "after": f"v{sequence}"}},
                "request_id": f"before-keys-{sequence}",
                "ip": None,
                "user_agent": None,
                "prev_hash": previous,
            }
            row["hash"] = plain_sha256(scope, scope_id, row)
            # Only the columns given are written: the table has no key_id yet.
            if scope is WORKSPACE:
                statement = insert(EVENTS).values(workspace_id=scope_id, id=uuid4(), **row)
            else:
                statement = insert(ACCOUNT_EVENTS).values(
                    scope=scope, scope_id=scope_id, id=uuid4(), **row
                )
            await conn.execute(statement)
            previous = row["hash"]
            hashes.append(previous)
        await conn.execute(
            insert(HEADS).values(
                scope=scope,
                scope_id=scope_id,
                audit_sequence=length,
                audit_hash=previous,
                outbox_sequence=0,
            )
        )
    return hashes


async def test_chains_from_before_keys_verify_after_the_upgrade_and_unkeyed_forgeries_do_not(
    scratch_database: TestDatabase,  # noqa: F811 - the fixture imported above
) -> None:
    await asyncio.to_thread(upgrade, scratch_database.owner_url, "0014")
    org, ws = uuid4(), uuid4()
    # The rows an older release wrote, planted behind the application's back.
    owner = create_async_engine(scratch_database.inspector_url)
    try:
        async with owner.begin() as conn:
            now = datetime.now(UTC)
            await conn.execute(
                text(
                    "INSERT INTO organizations (id, slug, name, kind, created_at, updated_at) "
                    "VALUES (:id, 'older', 'Older', 'COMPANY', :now, :now)"
                ).bindparams(id=org, now=now)
            )
        await write_unkeyed_chain(owner, ORGANIZATION, org, 3)
        async with owner.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO workspaces (id, organization_id, name, created_at, updated_at) "
                    "VALUES (:id, :org, 'Older', :now, :now)"
                ).bindparams(id=ws, org=org, now=now)
            )
        [first_hash, _] = await write_unkeyed_chain(owner, WORKSPACE, ws, 2)
        async with owner.begin() as conn:  # the background check had got to event 1
            await conn.execute(
                insert(AuditVerification.__table__).values(
                    workspace_id=ws,
                    id=ws,
                    verified_at=now,
                    verified_sequence=1,
                    verified_hash=first_hash,
                    ok=True,
                )
            )

        await asyncio.to_thread(upgrade, scratch_database.owner_url)

        app_url = scratch_database.app_url
        done = run_waypost(app_url, "audit", "verify")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"ok      organization {org}: 4 events" in done.stdout
        assert f"ok      workspace {ws}: 3 events" in done.stdout
        assert "2 chains checked, 0 broken" in done.stdout
        # The background check goes on from its checkpoint among the unkeyed events.
        app = make_database(scratch_database)
        try:
            async with app.transaction(TenantBinding(frozenset({ws})), write=True) as session:
                report = await verify_workspace_increment(session, ws)
            assert (report.ok, report.last_sequence) == (True, 3), report.problem
        finally:
            await app.dispose()

        # Each chain's unkeyed events are sealed by one keyed event that links to them.
        async with owner.connect() as conn:
            events = list(
                (
                    await conn.execute(
                        select(ACCOUNT_EVENTS)
                        .where(ACCOUNT_EVENTS.c.scope_id == org)
                        .order_by(ACCOUNT_EVENTS.c.sequence)
                    )
                ).mappings()
            )
        assert [e["key_id"] for e in events] == ["sha256"] * 3 + [KEY.id]
        seal = events[-1]
        assert (seal["action"], seal["actor_type"], seal["prev_hash"]) == (
            "audit_chain.seal",
            "SYSTEM",
            events[2]["hash"],
        )

        # An unkeyed event appended after the seal, head and all: anyone could hash it.
        forged = dict(
            events[-1],
            sequence=5,
            action="organization_member.add",
            changes={"role": {"before": None, "after": "OWNER"}},
            prev_hash=seal["hash"],
            key_id="sha256",
            id=uuid4(),
        )
        forged["hash"] = plain_sha256(ORGANIZATION, org, forged)
        # Rewriting the unkeyed past: the seal still names the old last link.
        [first, second, _seal] = await workspace_chain(owner, ws)
        edited = dict(first, changes={"name": {"before": "v0", "after": "hijacked"}})
        edited["hash"] = plain_sha256(WORKSPACE, ws, edited)
        relinked = dict(second, prev_hash=edited["hash"])
        relinked["hash"] = plain_sha256(WORKSPACE, ws, relinked)
        async with owner.begin() as conn:
            await conn.execute(insert(ACCOUNT_EVENTS).values(**forged))
            await conn.execute(
                update(HEADS)
                .where(HEADS.c.scope_id == org)
                .values(audit_sequence=5, audit_hash=forged["hash"])
            )
            for row in (edited, relinked):
                await conn.execute(
                    update(EVENTS)
                    .where(EVENTS.c.workspace_id == ws, EVENTS.c.sequence == row["sequence"])
                    .values(changes=row["changes"], prev_hash=row["prev_hash"], hash=row["hash"])
                )

        done = run_waypost(app_url, "audit", "verify")
        assert done.returncode == 1, done.stdout + done.stderr
        assert (
            f"BROKEN  organization {org}: at event 5: event 5 is unkeyed but follows keyed events"
            in done.stdout
        )
        assert (
            f"BROKEN  workspace {ws}: at event 3: event 3 does not link to the one before"
            in done.stdout
        )
        assert "2 chains checked, 2 broken" in done.stdout
    finally:
        await owner.dispose()
