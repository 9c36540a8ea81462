"""Statements on a request's hot path sent through asyncpg itself, in the same transaction.

SQLAlchemy's execution of a statement (a greenlet hop, its DB-API cursor emulation, the
result's wrapping) costs some 100-150 us of CPU here, asyncpg's own ``fetch`` about 35
(docs/benchmarks.md). A read request's sign-in, its binding again for the reads and
the JSON Postgres writes are four such statements. On Postgres, inside a transaction
that has begun (its first statement, the binding, went through SQLAlchemy, which sent
BEGIN), they go through asyncpg; anywhere else (SQLite, no transaction yet) through
SQLAlchemy as before. A Core statement is compiled for asyncpg once (``$n``
placeholders), so its SQL is still written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ClauseElement, TextClause, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A Core statement, and its SQL for asyncpg with its parameters' order."""

    def __init__(self, statement: ClauseElement | str, *names: str) -> None:
        """``names``: the parameters each execution passes (the rest are the statement's
        own values, IN lists among them, rendered into its SQL once)."""
        self.statement: ClauseElement = text(statement) if isinstance(statement, str) else statement
        compiled = self.statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        # IN lists rendered once, with the statement's own values; the passed parameters
        # only hold a place, each execution giving its own.
        expanded = compiled.construct_expanded_state(dict.fromkeys(names))
        self.sql = expanded.statement
        self._names = tuple(expanded.positiontup or ())
        self._values = expanded.parameters
        self.is_text = isinstance(self.statement, TextClause)

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        own = self._values
        return [values[name] if name in values else own[name] for name in self._names]


async def _driver(connection: AsyncConnection) -> Any | None:
    """The asyncpg connection under ``connection``, if its transaction has begun."""
    if connection.dialect.name != "postgresql":
        return None
    raw = (await connection.get_raw_connection()).driver_connection
    return raw if raw is not None and raw.is_in_transaction() else None


async def _fetch(connection: AsyncConnection, driver: Any, sql: str, arguments: Any) -> Any:
    # The engine's statement events still see it (tracing, tests counting statements).
    sync = connection.sync_connection
    if sync is not None and sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, sql, tuple(arguments), None, False)
    found = await driver.fetch(sql, *arguments)
    if sync is not None and sync.dispatch.after_cursor_execute:
        sync.dispatch.after_cursor_execute(sync, None, sql, tuple(arguments), None, False)
    return found


async def rows(
    connection: AsyncConnection, statement: DriverStatement, **values: Any
) -> list[Sequence[Any]]:
    """The statement's rows, each a sequence of its columns' values."""
    driver = await _driver(connection)
    if driver is not None:
        found = await _fetch(connection, driver, statement.sql, statement.arguments(values))
        return [tuple(r) for r in found]
    executable = statement.statement
    assert isinstance(executable, Executable)
    result = await connection.execute(executable, values)
    return [tuple(r) for r in result] if result.returns_rows else []


async def texts(connection: AsyncConnection, sql: str, arguments: Sequence[Any]) -> list[Any]:
    """The first column of each row of ``sql`` (``$n`` placeholders, Postgres only)."""
    driver = await _driver(connection)
    if driver is not None:
        return [r[0] for r in await _fetch(connection, driver, sql, arguments)]
    result = await connection.exec_driver_sql(sql, tuple(arguments))
    return [r[0] for r in result]
