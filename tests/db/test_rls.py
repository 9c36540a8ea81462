"""Postgres row-level security: the second wall, tested on its own (SPEC §11.3)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.authz.roles import WorkspaceRole
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models import WorkspaceMembership
from tests.conftest import make_database
from tests.fixtures.databases import TestDatabase, is_postgres_run
from tests.fixtures.tenants import Tenant, add_guest

pytestmark = pytest.mark.skipif(
    not is_postgres_run(), reason="row-level security exists only on Postgres"
)


@pytest_asyncio.fixture(loop_scope="session")
async def unscoped(test_database: TestDatabase) -> AsyncIterator[Database]:
    """The app's own role with application scoping switched off: only RLS stands."""
    db = make_database(test_database, app_scoping=False, pool_size=1)
    yield db
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def two_memberships(database: Database, tenant_a: Tenant, tenant_b: Tenant) -> dict:
    a, b = tenant_a.workspace_ids[0], tenant_b.workspace_ids[0]
    user_a, _ = await add_guest(database, a, "guest-a@example.com", WorkspaceRole.EDITOR)
    user_b, _ = await add_guest(database, b, "guest-b@example.com", WorkspaceRole.EDITOR)
    return {"a": a, "b": b, "user_a": user_a, "user_b": user_b}


async def _visible_workspaces(db: Database, binding: TenantBinding) -> set[object]:
    async with db.transaction(binding) as session:
        return set((await session.scalars(select(WorkspaceMembership.workspace_id))).all())


async def test_application_role_is_neither_owner_nor_privileged(
    unscoped: Database, owner_engine: AsyncEngine
) -> None:
    async with unscoped.engine.connect() as conn:
        role = (
            await conn.execute(
                text(
                    "select current_user, r.rolsuper, r.rolbypassrls from pg_roles r "
                    "where r.rolname = current_user"
                )
            )
        ).one()
        owned = await conn.scalar(
            text(
                "select count(*) from pg_tables"
                " where schemaname = 'public' and tableowner = current_user"
            )
        )
    assert role == ("waypost_app", False, False)
    assert owned == 0


async def test_every_workspace_table_has_forced_rls_and_a_policy(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """
                    select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                           exists(select 1 from pg_policies p where p.tablename = c.relname
                                  and p.policyname = 'workspace_isolation')
                    from pg_class c
                    join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
                    join information_schema.columns col
                      on col.table_schema = 'public' and col.table_name = c.relname
                     and col.column_name = 'workspace_id'
                    where c.relkind = 'r'
                    """
                )
            )
        ).all()
    assert rows, "no workspace tables found"
    unprotected = [
        name for name, enabled, forced, policy in rows if not (enabled and forced and policy)
    ]
    assert unprotected == [], f"workspace tables without forced RLS and a policy: {unprotected}"


async def test_rls_alone_limits_reads_to_the_bound_workspace(
    unscoped: Database, two_memberships: dict
) -> None:
    a, b = two_memberships["a"], two_memberships["b"]
    assert await _visible_workspaces(unscoped, TenantBinding(frozenset({a}))) == {a}
    assert await _visible_workspaces(unscoped, TenantBinding(frozenset({b}))) == {b}


async def test_no_workspace_bound_means_zero_rows(
    unscoped: Database, two_memberships: dict
) -> None:
    assert await _visible_workspaces(unscoped, TenantBinding()) == set()


async def test_a_pooled_connection_never_carries_a_binding_over(
    unscoped: Database, two_memberships: dict
) -> None:
    a = two_memberships["a"]
    # pool_size=1: both transactions run on the same physical connection.
    assert await _visible_workspaces(unscoped, TenantBinding(frozenset({a}))) == {a}
    async with unscoped.engine.connect() as conn:
        # Raw connection, no binding at all: the committed setting is '' (not NULL).
        leftover = await conn.scalar(text("select current_setting('waypost.workspace_ids', true)"))
        count = await conn.scalar(text("select count(*) from workspace_memberships"))
    assert leftover in ("", None)
    assert count == 0


async def test_rls_refuses_writes_into_another_workspace(
    unscoped: Database, two_memberships: dict
) -> None:
    a, b = two_memberships["a"], two_memberships["b"]
    with pytest.raises(Exception, match="row-level security"):
        async with unscoped.transaction(TenantBinding(frozenset({a})), write=True) as session:
            session.add(
                WorkspaceMembership(
                    workspace_id=b, user_id=two_memberships["user_a"], role=WorkspaceRole.ADMIN
                )
            )
    async with unscoped.transaction(TenantBinding(frozenset({a})), write=True) as session:
        updated = await session.execute(
            text("update workspace_memberships set role = 'ADMIN' where workspace_id = :b"),
            {"b": b},
        )
    assert updated.rowcount == 0


async def test_own_rows_policy_shows_a_user_only_their_memberships(
    unscoped: Database, two_memberships: dict
) -> None:
    binding = TenantBinding(user_id=two_memberships["user_a"])
    assert await _visible_workspaces(unscoped, binding) == {two_memberships["a"]}
