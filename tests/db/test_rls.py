"""Postgres row-level security: the second wall, tested on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from backend.db.engine import Database, database_from_settings, switch_role_on_connect
from backend.db.scoping import INFO_KEY, NO_TENANT, WORKSPACE_IDS_SETTING, TenantBinding
from backend.models import WorkspaceMembership
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
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


ROLE_FACTS = text(
    """
    select r.rolname, r.rolsuper, r.rolbypassrls, r.rolinherit,
           (select count(*) from pg_class c
             join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
             where c.relowner = r.oid) as owned
    from pg_roles r where r.rolname = :name
    """
)


async def _facts(conn: AsyncConnection, name: str) -> tuple[str, bool, bool, bool, int]:
    row = (await conn.execute(ROLE_FACTS, {"name": name})).one()
    return (row.rolname, row.rolsuper, row.rolbypassrls, row.rolinherit, row.owned)


async def _who(db: Database) -> tuple[str, str]:
    """(login role, current role) of a connection from the application's own pool."""
    async with db.transaction(NO_TENANT) as session:
        row = (await session.execute(text("select session_user, current_user"))).one()
    return row[0], row[1]


async def test_application_connections_are_neither_superuser_nor_owner_nor_bypassrls(
    database: Database, settings: Settings, unscoped: Database, inspector_engine: AsyncEngine
) -> None:
    from_settings = database_from_settings(settings)  # what `waypost serve` and workers open
    try:
        seen = {await _who(db) for db in (database, unscoped, from_settings)}
    finally:
        await from_settings.dispose()
    [(login, current)] = seen
    async with inspector_engine.connect() as conn:
        login_facts = await _facts(conn, login)
        current_facts = await _facts(conn, current)
        owners = set((await conn.scalars(TABLE_OWNERS)).all())
    # The login role: no superuser, no BYPASSRLS, NOINHERIT (nothing without SET ROLE),
    # owns nothing; after SET ROLE the queries run as waypost_app, likewise powerless.
    assert login_facts == (login, False, False, False, 0)
    assert current_facts == ("waypost_app", False, False, True, 0)
    assert login not in owners
    assert current not in owners


TABLE_OWNERS = text(
    """
    select distinct pg_get_userbyid(c.relowner) from pg_class c
    join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
    where c.relkind in ('r', 'S', 'v')
    union
    select distinct pg_get_userbyid(p.proowner) from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace and n.nspname = 'public'
    """
)


async def test_migrations_ran_as_an_owner_that_row_level_security_binds(
    test_database: TestDatabase, inspector_engine: AsyncEngine
) -> None:
    async with inspector_engine.connect() as conn:
        owners = set((await conn.scalars(TABLE_OWNERS)).all())
        [owner] = owners  # every table, sequence and function: one owner, who migrated
        facts = await _facts(conn, owner)
        database_owner = await conn.scalar(
            text(
                "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
            )
        )
    assert owner == test_database.owner_role == database_owner
    assert facts[1:3] == (False, False)  # no superuser, no BYPASSRLS
    assert owner != make_url(test_database.app_url).username


async def test_every_workspace_table_has_forced_rls_and_a_policy(
    inspector_engine: AsyncEngine,
) -> None:
    async with inspector_engine.connect() as conn:
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


async def test_a_scan_reads_the_bound_workspaces_once_not_per_row(
    unscoped: Database, two_memberships: dict, inspector_engine: AsyncEngine
) -> None:
    """A filter evaluated per row re-parsed the bound setting for every row scanned."""
    async with inspector_engine.connect() as conn:
        rules = (
            await conn.execute(
                text("select qual from pg_policies where policyname = 'workspace_isolation'")
            )
        ).scalars()
        assert {rule.replace(" ", "") for rule in rules} == {
            "(workspace_id=ANY((SELECTwaypost_bound_workspaces()ASwaypost_bound_workspaces)::uuid[]))"
        }
    a = two_memberships["a"]
    async with unscoped.connection(TenantBinding(frozenset({a}))) as connection:
        plan = (
            await connection.execute(
                text("explain (analyze, format json) select * from workspace_memberships")
            )
        ).scalar_one()
    root = plan[0]["Plan"]
    # The bound array is an InitPlan run once, whatever the number of rows.
    initplans = [p for p in root.get("Plans", []) if p.get("Parent Relationship") == "InitPlan"]
    assert [p["Actual Loops"] for p in initplans] == [1], root


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
