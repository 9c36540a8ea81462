"""Engine and session factory for both storage modes (embedded SQLite, Postgres)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from backend.crypto.audit_keys import INFO_KEY as AUDIT_KEYS
from backend.crypto.audit_keys import AuditKeyring
from backend.db.outage import watch as watch_for_outages
from backend.db.scoping import INFO_KEY, NO_TENANT, TenantBinding, bind_connection
from backend.settings import get_settings

_SQLITE_BEGIN_OPTION = "waypost_sqlite_begin"
# A session's info key: True when Postgres writes a map's snapshots (``sql_snapshots``).
SQL_SNAPSHOTS = "sql_snapshots"
# One row per workspace at most, and under row-level security on Postgres: with no
# workspace bound it reads nothing, yet needs the grants and the policy's functions.
_READINESS_READ = text("select 1 from health_generations limit 1")


class NotReadyError(RuntimeError):
    """The database answers, but not as the application needs; the message is safe to show."""


class Database:
    """One engine and its session factory; sessions always carry a tenant binding."""

    def __init__(
        self,
        url: str,
        *,
        app_role: str | None = None,
        pool_size: int = 10,
        max_overflow: int | None = None,
        app_scoping: bool = True,
        echo: bool = False,
        audit_keys: AuditKeyring | None = None,
        sql_snapshots: bool = True,
    ) -> None:
        self.url: URL = make_url(url)
        self.app_role = app_role if self.url.get_backend_name() != "sqlite" else None
        self.app_scoping = app_scoping
        # What this process signs and verifies audit chains with; never stored.
        self.audit_keys = audit_keys or AuditKeyring.from_settings(get_settings())
        # Postgres writes a map's revision itself (backend.journeys.snapshot_sql);
        # False keeps Python writing it, as the first version did, for comparing.
        self.sql_snapshots = sql_snapshots and self.url.get_backend_name() == "postgresql"
        overflow = pool_size if max_overflow is None else max_overflow
        self.engine: AsyncEngine = _create_engine(self.url, app_role, pool_size, overflow, echo)
        watch_for_outages(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes its write lock lazily; a writer that first reads and then
        # writes can deadlock with another. Writers ask for the lock up front.
        self._write_engine = self.engine.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        # One snapshot for every statement of a transaction (Postgres; SQLite's are).
        self._snapshot_engine = (
            self.engine.execution_options(isolation_level="REPEATABLE READ")
            if self.dialect == "postgresql"
            else self.engine
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(
        self, binding: TenantBinding, *, write: bool = False, snapshot: bool = False
    ) -> AsyncSession:
        binding = replace(binding, app_scoping=self.app_scoping)
        bind = self._write_engine if write else self._snapshot_engine if snapshot else self.engine
        return self._sessions(bind=bind, info=self._info(binding))

    def session_on(self, connection: AsyncConnection, binding: TenantBinding) -> AsyncSession:
        """A session joined to a connection's open transaction, which ``connection``
        bound as ``binding`` (``SharedReads``): it neither binds nor commits it."""
        binding = replace(binding, app_scoping=self.app_scoping)
        return self._sessions(bind=connection, info=self._info(binding))

    def _info(self, binding: TenantBinding) -> dict[str, Any]:
        return {INFO_KEY: binding, AUDIT_KEYS: self.audit_keys, SQL_SNAPSHOTS: self.sql_snapshots}

    @asynccontextmanager
    async def transaction(
        self, binding: TenantBinding, *, write: bool = False, snapshot: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        ``snapshot`` (a read): every statement sees the database as the first one did,
        not the commits made since, for reading several tables as one state.
        """
        session = self.session(binding, write=write, snapshot=snapshot)
        async with session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self, binding: TenantBinding) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one bound read transaction, for hot paths.

        Cheaper than a session (no ORM state, no per-statement criteria), so each
        statement run on it must filter by the binding's workspaces itself.
        """
        async with self.engine.begin() as connection:
            await bind_connection(connection, binding)
            yield connection

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("select 1"))

    async def prove_ready(self) -> None:
        """Serve one read the way requests do, or raise ``NotReadyError`` saying why.

        Through the pool, in a bound transaction, as the application role (a
        connection that fell back to the login role would answer "permission
        denied" to every request), reading a small table under row-level security.
        """
        async with self.connection(NO_TENANT) as connection:
            if self.app_role:
                user = (await connection.execute(text("select current_user"))).scalar_one()
                if user != self.app_role:
                    raise NotReadyError("not the application role")
            await connection.execute(_READINESS_READ)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _create_engine(
    url: URL, app_role: str | None, pool_size: int, max_overflow: int, echo: bool
) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, echo)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        echo=echo,
        json_deserializer=read_json,
    )
    _ping_after_idle(engine)
    if app_role:
        switch_role_on_connect(engine, app_role)
    return engine


# An integer of 19 digits or more may lie beyond 64 bits, which orjson reads as a float.
# Only an integer's digits count: not a fraction's (a score's 0.0016666666666666668 has
# 19 in a row) nor an exponent's, which orjson reads as the standard library does.
_LONG_INTEGER = r"(?<![\d.eE])(?<![eE][+-])\d{19,}(?![\d.eE])"
_LONG_INTEGER_TEXT = re.compile(_LONG_INTEGER)
_LONG_INTEGER_BYTES = re.compile(_LONG_INTEGER.encode())


def read_json(text: str | bytes) -> Any:
    """A json/jsonb value as read from Postgres: orjson, about eight times the standard
    library's speed (a map read decodes every touchpoint's score components). A document
    with a long integer, or one orjson refuses (1e400), is read by the standard library,
    which keeps big integers exact."""
    pattern = _LONG_INTEGER_TEXT if isinstance(text, str) else _LONG_INTEGER_BYTES
    if not pattern.search(text):  # type: ignore[arg-type]
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


# A pooled connection idle this long is pinged before use. A busy pool skips the
# round trip (pinging every checkout cost a fifth of a cached read's time), while
# a connection the server dropped while idle (restart, failover, idle timeout) is
# replaced instead of failing the request. One dropped mid-use fails that request,
# and SQLAlchemy then renews the whole pool.
IDLE_BEFORE_PING = 5.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("pooled connection is gone") from error


def ensure_sqlite_directory(url: str | URL) -> None:
    """SQLite creates the file but not its folder (the default is var/waypost.db)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _create_sqlite_engine(url: URL, echo: bool) -> AsyncEngine:
    ensure_sqlite_directory(url)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def switch_role_on_connect(engine: AsyncEngine, role: str) -> None:
    # Every connection drops to the application role, which neither owns the
    # tables nor bypasses row-level security, whatever role it logged in as.
    # The switch runs outside any transaction: inside the driver's implicit one it
    # would be undone by that transaction's rollback (a failed probe, a mutation
    # answering a user error), and the connection would quietly go back to the
    # login role for the rest of its life. Once per connection, not per
    # transaction: a `SET LOCAL ROLE` in each would cost a round trip each.
    quoted = engine.dialect.identifier_preparer.quote(role)

    @event.listens_for(engine.sync_engine, "connect")
    def _set_role(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET ROLE {quoted}")
            cursor.close()
        finally:
            dbapi_connection.autocommit = autocommit


def database_from_settings(settings: Any, **overrides: Any) -> Database:
    options: dict[str, Any] = {
        "app_role": settings.database_app_role,
        "pool_size": settings.database_pool_size,
        "app_scoping": settings.app_scoping,
        "audit_keys": AuditKeyring.from_settings(settings),
        # The side-by-side setting keeps both of the first version's paths: reads
        # resolved field by field, revisions written by Python.
        "sql_snapshots": settings.planned_reads,
    }
    options.update(overrides)
    return Database(settings.database_url, **options)
