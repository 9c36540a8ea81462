"""The sign-in's statements sent through asyncpg (``backend.db.driver``) read what
SQLAlchemy reads, never outside a begun transaction, and stay visible to the engine's
statement events; a known token's planned read sends every statement that way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from backend.auth import repository
from backend.auth.tokens import hash_secret
from backend.authz.access import _ACCESS_ROWS, access_rows
from backend.db import driver
from backend.db.engine import Database
from backend.db.scoping import _BIND_BY_DRIVER, TenantBinding, bind_connection
from backend.settings import Settings
from tests.fixtures.databases import is_postgres_run
from tests.fixtures.planned import answer, is_written, ordinary_and_planned
from tests.fixtures.tenants import Tenant

postgres_only = pytest.mark.skipif(not is_postgres_run(), reason="asyncpg is Postgres' driver")


async def test_the_sign_in_reads_the_same_rows_through_either_path(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    binding = TenantBinding(user_id=tenant_a.owner_id, secret_hash=hash_secret(tenant_a.token))
    cursors: list[object] = []  # asyncpg's own statements have no DB-API cursor

    def seen(_conn: Any, cursor: object, statement: str, *_: Any) -> None:
        if "FROM api_tokens" in statement:
            cursors.append(cursor)

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    async with database.connection(binding) as connection:
        token = await repository.token_and_user(connection, hash_secret(tenant_a.token))
        grants = await access_rows(connection, tenant_a.owner_id)
        # The same statements through SQLAlchemy itself.
        through_sqlalchemy = await connection.execute(
            _ACCESS_ROWS.statement, {"user_id": tenant_a.owner_id}
        )
        expected = [tuple(r) for r in through_sqlalchemy]
    event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    assert len(cursors) == 1
    assert (cursors[0] is None) is is_postgres_run()  # through asyncpg on Postgres
    assert token is not None
    assert token.user_id == tenant_a.owner_id
    assert token.email == tenant_a.owner_email
    assert token.revoked_at is None
    assert token.expires_at is None or token.expires_at > datetime.now(UTC)
    assert sorted(grants, key=str) == sorted(expected, key=str)
    assert {g[1] for g in grants} >= set(tenant_a.workspace_ids)
    # Both statements were seen by the engine's events, whichever path sent them.
    assert sum("FROM api_tokens" in s for s in sql_statements) == 1
    assert sum("UNION ALL" in s for s in sql_statements) == 2


@postgres_only
async def test_nothing_goes_through_asyncpg_before_the_transaction_began(
    database: Database, tenant_a: Tenant
) -> None:
    """A connection whose BEGIN SQLAlchemy has not sent yet (it sends it with the first
    statement): a setting made through asyncpg there would die with its own statement."""
    async with database.engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        assert not raw.is_in_transaction()
        await driver.rows(connection, driver.DriverStatement("select set_config('x.y', 'z', true)"))
        assert raw.is_in_transaction()  # SQLAlchemy sent it, with BEGIN first
        kept = await connection.scalar(text("select current_setting('x.y')"))
    assert kept == "z"


@postgres_only
async def test_a_connections_first_binding_sends_begin_and_binds_through_asyncpg(
    database: Database, tenant_a: Tenant
) -> None:
    """``Database.connection`` begins through the adapter (``driver.begin``) and binds
    through asyncpg: no statement of it goes through SQLAlchemy's cursor, the settings hold
    for the whole transaction, and the engine's isolation level is the transaction's."""
    binding = TenantBinding(frozenset(tenant_a.workspace_ids), user_id=tenant_a.owner_id)
    cursors: list[object] = []

    def seen(_conn: Any, cursor: object, *_: Any) -> None:
        cursors.append(cursor)

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with database.connection(binding) as connection:
            bound = await driver.texts(
                connection, "select current_setting('waypost.workspace_ids')", ()
            )
            visible = await driver.texts(connection, "select count(*)::text from workspaces", ())
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    assert cursors == [None, None, None]  # the binding and both reads, all through asyncpg
    assert set(bound[0].split(",")) == {str(w) for w in tenant_a.workspace_ids}
    assert visible == [str(len(tenant_a.workspace_ids))]  # row-level security read them

    snapshot = database.engine.execution_options(isolation_level="REPEATABLE READ")
    async with snapshot.begin() as connection:
        await bind_connection(connection, binding)
        level = await driver.texts(
            connection, "select current_setting('transaction_isolation')", ()
        )
    assert level == ["repeatable read"]


@postgres_only
async def test_a_known_tokens_planned_read_sends_each_statement_through_asyncpg(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """The hot path of a read Postgres writes whole, for a token seen before: its
    binding, the token and grants, the binding for the read and the read itself, one
    transaction, every statement through asyncpg (SQLAlchemy's execution costs some three
    times as much CPU a statement, docs/benchmarks.md)."""
    query = """query D($id: ID!) { workspace(id: $id) { name
      journeyMaps(first: 5) { totalCount edges { node { id title } } } } }"""
    variables = {"id": tenant_a.ws_gid(0)}
    sent: list[tuple[object, str]] = []

    def seen(_conn: Any, cursor: object, statement: str, *_: Any) -> None:
        sent.append((cursor, statement))

    async with ordinary_and_planned(settings, database) as clients:
        first = await answer(clients[True], query, variables, tenant_a.token)  # now known
        event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
        try:
            again = await answer(clients[True], query, variables, tenant_a.token)
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    assert again == first
    assert "journeyMaps" in again
    assert [cursor for cursor, _ in sent] == [None] * 4, sent
    bind, token, rebind, read = (statement for _, statement in sent)
    assert bind == rebind == _BIND_BY_DRIVER.sql
    assert "FROM api_tokens" in token
    assert is_written(read)
