"""The sign-in's statements sent through asyncpg (``backend.db.driver``) read what
SQLAlchemy reads, never outside a begun transaction, and stay visible to the engine's
statement events."""

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
from backend.db.scoping import TenantBinding
from tests.fixtures.databases import is_postgres_run
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
