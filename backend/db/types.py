"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, DateTime, Enum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# JSON documents: JSONB on Postgres (indexable, compact), JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def compact_json(value: Any) -> str:
    """``value`` as the API's answers write it (``backend.json_output``: orjson, no
    spaces). What orjson refuses (a key that is no string, an integer past 64 bits) is
    written by the standard library, as compactly."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class WrittenJSON(TypeDecorator[Any]):
    """A JSON document kept as the very text the API writes for it (``compact_json``):
    ``json`` on Postgres, which keeps a document's text as it was written, where jsonb
    rewrites it (", " and ": ", its numbers as numeric writes them: a float of 1e16
    comes back as the integer 10000000000000000). A statement can then put the
    document into an answer as it is (``graphql_schema.json_fields``), and what is
    read back is what was written. For documents written once and never searched:
    an audit event's changes."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | None]:
        def process(value: Any) -> str | None:
            return None if value is None else compact_json(value)

        return process


def enum_column(enum: type[StrEnum], name: str, *, length: int = 16) -> Enum:
    # Stored as checked VARCHAR rather than a native enum: same on SQLite and
    # Postgres, and adding a value later needs no ALTER TYPE.
    return Enum(enum, name=name, native_enum=False, create_constraint=True, length=length)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out.

    SQLite has no time zones and hands back naive values; Postgres hands back the
    session's zone. Normalising here means no caller ever compares naive with aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class _WithinPythonRange(FunctionElement[datetime]):
    """A time column read as itself, except (on Postgres) a time before year 1 or after
    9999 reads as -infinity or infinity, which asyncpg reads as the earliest or latest
    datetime. Compared with text literals: asyncpg sends ``datetime.min`` as -infinity."""

    name = "within_python_range"
    inherit_cache = True
    type = UTCDateTime()


@compiles(_WithinPythonRange)
def _as_itself(element: _WithinPythonRange, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_WithinPythonRange, "postgresql")
def _clamped(element: _WithinPythonRange, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"CASE WHEN {column} < TIMESTAMPTZ '0001-01-01 00:00:00+00' THEN TIMESTAMPTZ '-infinity'"
        f" WHEN {column} >= TIMESTAMPTZ '10000-01-01 00:00:00+00' THEN TIMESTAMPTZ 'infinity'"
        f" ELSE {column} END"
    )


class ReportedDateTime(UTCDateTime):
    """A time a client reported (when feedback happened), read back within what a Python
    datetime holds (years 1 to 9999).

    Input is checked to a far narrower range (``backend.validation``), but Postgres
    keeps 4713 BC to 294276 AD, and a row written before that check, or by hand, must
    not make every later read of its table fail: it reads as the nearest end instead.
    """

    cache_ok = True

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return _WithinPythonRange(column)
