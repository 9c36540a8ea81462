"""Postgres row-level security: the second wall, tested on its own (SPEC §11.3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from backend.authz.roles import WorkspaceRole
from backend.db.engine import Database
from backend.db.engine import _switch_role_on_connect as switch_role_on_connect
from backend.db.scoping import INFO_KEY, WORKSPACE_IDS_SETTING, TenantBinding
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
    db = make_database(test_database, app_scoping=False)
    yield db
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def one_connection(test_database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    """The app's role on a pool of exactly one connection (no overflow): reuse is certain."""
    engine = create_async_engine(test_database.app_url, pool_size=1, max_overflow=0)
    switch_role_on_connect(engine, "waypost_app")
    yield engine
    await engine.dispose()


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


BOUND_WORKSPACES = text("select current_setting(:name, true)").bindparams(
    name=WORKSPACE_IDS_SETTING
)


async def _bound_transaction(
    engine: AsyncEngine, binding: TenantBinding
) -> tuple[int, str | None, set[object]]:
    """One transaction carrying ``binding``, RLS alone: (server pid, setting, visible rows)."""
    info = {INFO_KEY: replace(binding, app_scoping=False)}
    async with AsyncSession(engine, info=info) as session, session.begin():
        pid = await session.scalar(text("select pg_backend_pid()"))
        setting = await session.scalar(BOUND_WORKSPACES)
        seen = set((await session.scalars(select(WorkspaceMembership.workspace_id))).all())
    assert isinstance(pid, int)
    return pid, setting, seen


async def test_a_pooled_connection_never_carries_a_binding_over(
    one_connection: AsyncEngine, two_memberships: dict
) -> None:
    a, b = two_memberships["a"], two_memberships["b"]
    first_pid, first_setting, first_seen = await _bound_transaction(
        one_connection, TenantBinding(frozenset({a}))
    )
    assert (first_setting, first_seen) == (str(a), {a})

    # The same server connection, bound to another workspace: a's rows stay out of sight.
    pid, setting, seen = await _bound_transaction(one_connection, TenantBinding(frozenset({b})))
    assert pid == first_pid
    assert (setting, seen) == (str(b), {b})

    # Bound to no workspace at all: nothing left over from either.
    pid, setting, seen = await _bound_transaction(one_connection, TenantBinding())
    assert pid == first_pid
    assert (setting, seen) == ("", set())

    async with one_connection.connect() as conn:
        # A raw connection, no binding at all: the committed setting is '' (not NULL).
        pid = await conn.scalar(text("select pg_backend_pid()"))
        leftover = await conn.scalar(BOUND_WORKSPACES)
        count = await conn.scalar(text("select count(*) from workspace_memberships"))
    assert pid == first_pid
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
