"""Row-level security on the organization-level tables: the database keeps tenants apart there too.

Members, API tokens, sessions, SSO connections and login attempts, invitations,
ingestion tokens and identities are not workspace rows, but each belongs to a tenant.
As the application's role with application scoping off (RLS alone), with nothing
bound no row of them shows; with organization A bound, none of organization B's;
a presented secret's hash shows the one row it names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.tokens import hash_secret, identity_hash
from backend.db.base import Base
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from migrations.rls import ORGANIZATION_RULES
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.tenants import Tenant, add_guest

pytestmark = pytest.mark.skipif(
    not is_postgres_run(), reason="row-level security exists only on Postgres"
)

# Tables that are not workspace rows and hold no tenant's secrets or private data, with
# why. Any other table without ``workspace_id`` must have forced RLS and a policy.
GLOBAL_TABLES = {
    "alembic_version": "the schema's version",
    "organizations": "names and slugs; a reference table (Citus), read to route SSO logins",
    "workspaces": "names and their organization; a reference table (Citus)",
    "users": "the people, shared by organizations; a reference table (Citus)",
    "account_audit_events": "organization and user audit chains: SELECT/INSERT only",
    "chain_heads": "each chain's head (sequence and hash), locked by every writer",
    "schedule_claims": "periods of periodic jobs and the process that ran each; no tenant's",
}


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


@pytest_asyncio.fixture(loop_scope="session")
async def unscoped(test_database: TestDatabase) -> AsyncIterator[Database]:
    """The app's own role with application scoping switched off: only RLS stands."""
    db = make_database(test_database, app_scoping=False)
    yield db
    await db.dispose()


@dataclass
class Planted:
    """One row per organization-level table for a tenant, and the secrets naming them."""

    organization_id: UUID
    workspace_id: UUID
    user_id: UUID
    token_secret: str
    session_secret: str
    invitation_secret: str
    ingestion_secret: str
    state: str
    subject: str


ISSUER = "https://idp.example"


async def _plant(owner: AsyncEngine, tenant: Tenant, database: Database) -> Planted:
    """Rows of every organization-level table for ``tenant``, written as a superuser."""
    ws = tenant.workspace_ids[0]
    guest, _ = await add_guest(database, ws, f"guest@{tenant.slug}.example", WorkspaceRole.VIEWER)
    tag = tenant.slug
    planted = Planted(
        tenant.organization_id,
        ws,
        tenant.owner_id,
        *(f"{tag}-{kind}-{uuid4()}" for kind in ("token", "session", "invitation", "ingest")),
        state=f"{tag}-state-{uuid4()}",
        subject=f"{tag}-subject",
    )
    now = utcnow()
    connection_id = uuid4()
    rows: dict[str, list[dict[str, Any]]] = {
        "api_tokens": [
            {"user_id": tenant.owner_id, "secret": planted.token_secret, "restricted": None},
            {"user_id": guest, "secret": f"{tag}-limited-{uuid4()}", "restricted": ws},
        ],
    }
    async with owner.begin() as conn:
        for token in rows["api_tokens"]:
            await conn.execute(
                insert(_table("api_tokens")).values(
                    id=uuid4(),
                    user_id=token["user_id"],
                    name="planted",
                    prefix="wp_planted",
                    secret_hash=hash_secret(token["secret"]),
                    restricted_workspace_id=token["restricted"],
                    read_only=False,
                    created_at=now,
                    updated_at=now,
                )
            )
        await conn.execute(
            insert(_table("user_sessions")).values(
                id=uuid4(),
                user_id=tenant.owner_id,
                organization_id=tenant.organization_id,
                secret_hash=hash_secret(planted.session_secret),
                csrf_token=f"csrf-{tag}",
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        await conn.execute(
            insert(_table("sso_connections")).values(
                id=connection_id,
                organization_id=tenant.organization_id,
                issuer=ISSUER,
                client_id=f"client-{tag}",
                client_secret_encrypted="x",
                allowed_domains=[f"{tag}.example"],
                default_role=WorkspaceRole.VIEWER.name,
                default_workspace_ids=[],
                enabled=True,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            insert(_table("sso_login_attempts")).values(
                id=uuid4(),
                state=planted.state,
                nonce=f"nonce-{uuid4()}",
                code_verifier="v",
                connection_id=connection_id,
                return_to="/",
                created_at=now,
            )
        )
        await conn.execute(
            insert(_table("user_identities")).values(
                issuer=ISSUER,
                subject=planted.subject,
                user_id=tenant.owner_id,
                created_at=now,
                updated_at=now,
            )
        )
        for org_role, target in ((OrgRole.MEMBER.name, None), (None, ws)):
            await conn.execute(
                insert(_table("invitations")).values(
                    id=uuid4(),
                    organization_id=tenant.organization_id,
                    email=f"invited-{uuid4()}@{tag}.example",
                    org_role=org_role,
                    target_workspace_id=target,
                    workspace_role=WorkspaceRole.VIEWER.name if target else None,
                    secret_hash=hash_secret(
                        planted.invitation_secret if target is None else str(uuid4())
                    ),
                    expires_at=now + timedelta(days=1),
                    created_at=now,
                    updated_at=now,
                )
            )
        await conn.execute(
            insert(_table("organization_domains")).values(
                id=uuid4(),
                organization_id=tenant.organization_id,
                domain=f"{tag}.example",
                verification_token=f"token-{tag}",
                verified_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            insert(_table("ingestion_tokens")).values(
                id=uuid4(),
                ingest_workspace_id=ws,
                name="planted",
                prefix="wpi_planted",
                secret_hash=hash_secret(planted.ingestion_secret),
                created_at=now,
                updated_at=now,
            )
        )
    return planted


@pytest_asyncio.fixture(loop_scope="session")
async def planted(
    inspector_engine: AsyncEngine, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> dict[str, Planted]:
    return {
        "a": await _plant(inspector_engine, tenant_a, database),
        "b": await _plant(inspector_engine, tenant_b, database),
    }


# Which tenant a row belongs to: the organization it names, or its workspace's, or its
# user's, or its connection's.
OWNER_OF_ROW = """
select coalesce(
  (select organization_id from workspaces w where w.id = r.ws),
  r.org,
  (select m.organization_id from organization_memberships m where m.user_id = r.usr limit 1),
  (select organization_id from workspaces w join workspace_memberships wm
     on wm.workspace_id = w.id where wm.user_id = r.usr limit 1),
  (select organization_id from sso_connections c where c.id = r.conn))
from (select cast(:ws as uuid) ws, cast(:org as uuid) org, cast(:usr as uuid) usr,
             cast(:conn as uuid) conn) r
"""
KEYS = {
    "organization_memberships": ("null", "organization_id", "user_id", "null"),
    "sso_connections": ("null", "organization_id", "null", "null"),
    "invitations": ("target_workspace_id", "organization_id", "null", "null"),
    "user_sessions": ("null", "organization_id", "user_id", "null"),
    "api_tokens": ("restricted_workspace_id", "null", "user_id", "null"),
    "ingestion_tokens": ("ingest_workspace_id", "null", "null", "null"),
    "user_identities": ("null", "null", "user_id", "null"),
    "sso_login_attempts": ("null", "null", "null", "connection_id"),
    "organization_domains": ("null", "organization_id", "null", "null"),
}


async def _visible(db: Database, table: str, binding: TenantBinding) -> list[tuple[Any, ...]]:
    ws, org, usr, conn = KEYS[table]
    async with db.connection(binding) as connection:
        rows = await connection.execute(text(f"select {ws}, {org}, {usr}, {conn} from {table}"))
        return [tuple(row) for row in rows]


async def _tenants_of(owner: AsyncEngine, rows: list[tuple[Any, ...]]) -> set[UUID]:
    found = set()
    async with owner.connect() as conn:
        for ws, org, usr, connection in rows:
            values = {"ws": ws, "org": org, "usr": usr, "conn": connection}
            found.add(await conn.scalar(text(OWNER_OF_ROW), values))
    return found


def test_the_rules_cover_every_organization_level_table() -> None:
    assert set(KEYS) == set(ORGANIZATION_RULES)
    without_workspace = {t.name for t in Base.metadata.tables.values() if "workspace_id" not in t.c}
    assert without_workspace - set(ORGANIZATION_RULES) == set(GLOBAL_TABLES) - {"alembic_version"}


async def test_every_table_but_the_global_ones_has_forced_rls_and_a_policy(
    inspector_engine: AsyncEngine,
) -> None:
    async with inspector_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """
                    select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                           exists(select 1 from pg_policies p where p.tablename = c.relname)
                    from pg_class c
                    join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
                    where c.relkind = 'r'
                    """
                )
            )
        ).all()
    unprotected = [
        name
        for name, enabled, forced, policy in rows
        if name not in GLOBAL_TABLES and not (enabled and forced and policy)
    ]
    assert unprotected == [], f"tables without forced RLS and a policy: {unprotected}"
    assert {name for name, *_ in rows} >= set(ORGANIZATION_RULES)


async def test_every_organization_table_holds_rows_of_both_tenants(
    inspector_engine: AsyncEngine, planted: dict[str, Planted]
) -> None:
    """The setting of the tests below: read by a superuser, each table shows both tenants."""
    expected = {planted["a"].organization_id, planted["b"].organization_id}
    for table in ORGANIZATION_RULES:
        ws, org, usr, conn = KEYS[table]
        async with inspector_engine.connect() as connection:
            rows = [
                tuple(r)
                for r in await connection.execute(
                    text(f"select {ws}, {org}, {usr}, {conn} from {table}")
                )
            ]
        assert await _tenants_of(inspector_engine, rows) == expected, table


@pytest.mark.parametrize("table", sorted(ORGANIZATION_RULES))
async def test_nothing_bound_shows_no_row(
    unscoped: Database, planted: dict[str, Planted], table: str
) -> None:
    assert await _visible(unscoped, table, TenantBinding()) == []


@pytest.mark.parametrize("table", sorted(ORGANIZATION_RULES))
async def test_organization_a_bound_shows_none_of_bs_rows(
    unscoped: Database,
    inspector_engine: AsyncEngine,
    planted: dict[str, Planted],
    tenant_a: Tenant,
    table: str,
) -> None:
    a = planted["a"]
    binding = TenantBinding(
        frozenset(tenant_a.workspace_ids),
        organization_ids=frozenset({a.organization_id}),
        account_id=a.user_id,
    )
    rows = await _visible(unscoped, table, binding)
    assert await _tenants_of(inspector_engine, rows) <= {a.organization_id}, table
    if table != "sso_login_attempts":  # only its state's holder ever reads an attempt
        assert rows, f"{table}: organization A sees none of its own rows"


async def test_a_presented_secret_shows_only_the_row_it_names(
    unscoped: Database, planted: dict[str, Planted]
) -> None:
    b = planted["b"]
    named = {
        "api_tokens": b.token_secret,
        "user_sessions": b.session_secret,
        "invitations": b.invitation_secret,
        "ingestion_tokens": b.ingestion_secret,
        "sso_login_attempts": b.state,
    }
    for table, secret in named.items():
        rows = await _visible(unscoped, table, TenantBinding(secret_hash=hash_secret(secret)))
        assert len(rows) == 1, table
    identity = TenantBinding(secret_hash=identity_hash(ISSUER, b.subject))
    assert await _visible(unscoped, "user_identities", identity) == [(None, None, b.user_id, None)]
    # The SSO connection of the login attempt whose state comes back: none otherwise.
    returning = TenantBinding(secret_hash=hash_secret(b.state))
    assert await _visible(unscoped, "sso_connections", returning) == [
        (None, b.organization_id, None, None)
    ]
    assert await _visible(unscoped, "sso_connections", TenantBinding(secret_hash="0" * 64)) == []


async def test_rls_refuses_writing_a_row_into_another_organization(
    unscoped: Database, planted: dict[str, Planted]
) -> None:
    a, b = planted["a"], planted["b"]
    with pytest.raises(Exception, match="row-level security"):
        async with unscoped.connection(
            TenantBinding(organization_ids=frozenset({a.organization_id}))
        ) as connection:
            await connection.execute(
                insert(_table("organization_memberships")).values(
                    organization_id=b.organization_id,
                    user_id=a.user_id,
                    role=OrgRole.OWNER.name,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
    async with unscoped.connection(
        TenantBinding(organization_ids=frozenset({a.organization_id}))
    ) as connection:
        changed = await connection.execute(
            text("update organization_memberships set role = 'MEMBER' where organization_id = :b"),
            {"b": b.organization_id},
        )
    assert changed.rowcount == 0
    async with unscoped.connection(TenantBinding()) as connection:
        found = await connection.scalar(
            select(_table("api_tokens").c.id).where(
                _table("api_tokens").c.secret_hash == hash_secret(b.token_secret)
            )
        )
    assert found is None
