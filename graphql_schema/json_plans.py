"""Planned subtrees that Postgres writes as JSON in one statement, as PostGraphile does.

A planned subtree (``graphql_schema.engine``) is built in Python from each level's rows:
some 2,500 values for a map read, each a Python object made, coerced and then encoded.
When every field of the subtree is one declared in ``graphql_schema.json_fields``, the
whole subtree is instead one statement whose result is each object's JSON, read back
with orjson (its values then encoded like any other). Postgres builds a map's 58 KB in
about 2 ms; a workspace's dashboard or a page of its feedback, with the page's total,
cursors and page info, is one statement too.

Tenant scoping stays: the objects a statement starts from are filtered by the caller's
workspaces (as ``ScopedRows`` filters), and every row reached from one (a relation's, a
page's) by the workspace of the row it is reached from, so by the caller's too; all of
it on the request's shared read transaction, where row-level security filters it again.
Argument values are the statement's parameters, never its text.

Anything not declared (a field, a type, an argument, more than 50 fields of one object)
keeps the Python plan, as does SQLite.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.db import driver
from backend.db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor
from backend.errors import ValidationFailed
from graphql_schema.json_fields import (
    LOOKUPS,
    ROOTS,
    SQL_TYPES,
    TABLES,
    Leaf,
    Listing,
    NotWritable,
    Relation,
    Table,
    cursor,
)

__all__ = [
    "LOOKUPS",
    "ROOTS",
    "TABLES",
    "Caller",
    "NotWritable",
    "Statement",
    "operation",
    "operation_written",
    "statement",
    "written",
]

MAX_FIELDS = 50  # json_build_object takes at most 100 arguments


class PlannedField(Protocol):
    key: str
    name: str
    constant: Any
    arguments: dict[str, Any] | None  # a listing's, as graphql-core coerced them

    @property
    def child(self) -> PlannedObject | None: ...


class PlannedObject(Protocol):
    type_name: str

    @property
    def fields(self) -> Sequence[PlannedField]: ...


@dataclass(frozen=True)
class Caller:
    """Who reads: their user id (None for no person) and the workspaces they administer."""

    user_id: UUID | None = None
    administered: frozenset[UUID] = frozenset()


@dataclass(frozen=True)
class Statement:
    sql: str
    # The values after the leading ones: $1 the ids and, when scoped, $2 the workspaces
    # (``statement``); $1 the workspaces (``operation``).
    parameters: tuple[Any, ...]
    # Its text is orjson's own bytes for the value (``_Text``), for the API to embed as it
    # is (``orjson.Fragment``); else json to read back.
    compact: bool = False


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _NotCompact(Exception):
    """A leaf with no compact text (``json_fields.Leaf.text``): write json instead."""


class _Json:
    """Objects and lists built as json values, for the API to read back."""

    def object(self, pairs: Sequence[tuple[str, str]]) -> str:
        return f"json_build_object({', '.join(f'{_literal(k)}, {v}' for k, v in pairs)})"

    def aggregate(self, element: str, order: str, within: str = "") -> str:
        only = f" FILTER (WHERE {within})" if within else ""
        return f"coalesce(json_agg({element}{order}){only}, '[]'::json)"

    def typename(self, type_name: str) -> str:
        return f"to_json({_literal(type_name)}::text)"

    def leaf(self, leaf: Leaf, alias: str) -> str:
        return leaf.json(alias)

    def json(self, sql: str) -> str:  # a json value, NULL for null
        return sql

    def scalar(self, sql: str) -> str:  # a number or a boolean, never NULL
        return sql

    def nullable(self, sql: str) -> str:  # an object, NULL for null
        return sql

    def text(self, sql: str) -> str:  # the statement's one value
        return f"{sql}::text"


class _Text(_Json):
    """The same, written as compact JSON text by concatenation, exactly the bytes orjson
    writes for what the API would read back (keys are GraphQL names, which need no
    escapes): the API embeds it as it is. json_build_object looks up each value's type
    at every call, and the API parsed 50 KB to encode it again."""

    def object(self, pairs: Sequence[tuple[str, str]]) -> str:
        if not pairs:
            return "'{}'"
        parts = []
        for n, (key, value) in enumerate(pairs):
            parts += [_literal(("{" if n == 0 else ",") + orjson.dumps(key).decode() + ":"), value]
        return "(" + " || ".join([*parts, "'}'"]) + ")"

    def aggregate(self, element: str, order: str, within: str = "") -> str:
        only = f" FILTER (WHERE {within})" if within else ""
        return f"coalesce('[' || string_agg({element}, ','{order}){only} || ']', '[]')"

    def typename(self, type_name: str) -> str:
        return _literal(orjson.dumps(type_name).decode())

    def leaf(self, leaf: Leaf, alias: str) -> str:
        if leaf.text is None:
            raise _NotCompact
        return leaf.text(alias)

    def json(self, sql: str) -> str:
        return f"coalesce(({sql})::text, 'null')"

    def scalar(self, sql: str) -> str:
        return f"({sql})::text"

    def nullable(self, sql: str) -> str:
        return f"coalesce({sql}, 'null')"

    def text(self, sql: str) -> str:
        return sql


def _page_size(first: Any) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not isinstance(size, int) or not 0 <= size <= MAX_PAGE_SIZE:
        raise NotWritable("first")  # the resolver reports it
    return size


class _Writer:
    # Set once a listing or lookup is worth writing as compact text (Listing.compact,
    # Lookup.compact).
    pays = False

    def __init__(
        self, scoped: bool, caller: Caller, *, workspaces_at: int = 2, compact: bool = False
    ) -> None:
        self.syntax = _Text() if compact else _Json()
        self.scoped = scoped
        self.caller = caller
        self.aliases = (f"t{n}" for n in itertools.count())
        self.parameters: list[Any] = []
        self.placeholders: dict[str, str] = {}
        self.workspaces_at = workspaces_at  # the caller's workspaces' parameter, if scoped
        self.leading = workspaces_at if scoped else workspaces_at - 1

    def parameter(self, value: Any, sql_type: str) -> str:
        self.parameters.append(value)
        return f"${len(self.parameters) + self.leading}::{sql_type}"

    # The reader (json_fields.Reader): each value passed once, the first time it is used.

    def user(self) -> str:
        if "user" not in self.placeholders:
            self.placeholders["user"] = self.parameter(self.caller.user_id, "uuid")
        return self.placeholders["user"]

    def administered(self) -> str:
        if "administered" not in self.placeholders:
            administered = sorted(self.caller.administered)
            self.placeholders["administered"] = self.parameter(administered, "uuid[]")
        return self.placeholders["administered"]

    def workspaces(self) -> str | None:
        return f"${self.workspaces_at}::uuid[]" if self.scoped else None

    def scope(self, alias: str, table: Table) -> str:
        return f" AND {alias}.{table.scope} = ANY({self.workspaces()})" if self.scoped else ""

    def object(self, plan: PlannedObject, alias: str) -> str:
        table = TABLES.get(plan.type_name)
        if table is None or len(plan.fields) > MAX_FIELDS:
            raise NotWritable(plan.type_name)
        syntax = self.syntax
        pairs = []
        for f in plan.fields:
            if f.name == "__typename":
                value = syntax.typename(plan.type_name)
            elif f.name in table.leaves and f.child is None:
                value = syntax.leaf(table.leaves[f.name], alias)
            elif f.name in table.relations and f.child is not None:
                value = self.relation(table.relations[f.name], f.child, alias, table)
            elif f.name in table.inline and f.child is not None:
                if f.child.type_name != table.inline[f.name]:
                    raise NotWritable(f.child.type_name)
                value = self.object(f.child, alias)  # the same row
            elif f.name in table.listings and f.child is not None:
                value = self.listing(
                    table.listings[f.name], f.child, f.arguments or {}, f"{alias}.{table.scope}"
                )
            else:
                raise NotWritable(f"{plan.type_name}.{f.name}")
            pairs.append((f.key, value))
        return syntax.object(pairs)

    def relation(self, relation: Relation, child: PlannedObject, parent: str, of: Table) -> str:
        if child.type_name != relation.child:
            raise NotWritable(child.type_name)
        alias = next(self.aliases)
        table = TABLES[relation.child]
        where = relation.condition(parent, alias)
        if relation.visible is not None:  # rows of no workspace
            where += " AND " + relation.visible(alias, self)
        else:
            # What a relation reaches lies in its parent's workspace, which is the
            # caller's: one value, so the workspace-first keys take a single probe, where
            # the list of the caller's workspaces (200 at large) took one per workspace.
            where = f"{alias}.{table.scope} = {parent}.{of.scope} AND {where}"
        built = self.object(child, alias)
        # Tables, columns and aliases are this module's; response keys are GraphQL names,
        # quoted by _literal besides.
        if not relation.many:
            found = f"(SELECT {built} FROM {table.name} {alias} WHERE {where})"  # noqa: S608
            return self.syntax.nullable(found)
        order = f" ORDER BY {relation.order(alias)}" if relation.order else ""
        listed = self.syntax.aggregate(built, order)
        return f"(SELECT {listed} FROM {table.name} {alias} WHERE {where})"  # noqa: S608

    def listing(
        self,
        listing: Listing,
        connection: PlannedObject,
        arguments: dict[str, Any],
        workspace: str,
    ) -> str:
        """A page as the resolver's ``Connection.from_page(paginate(...))`` has it: the
        first ``first`` rows after the cursor (one more read, for hasNextPage), each an
        edge with its cursor, the total of all rows, the page's info. Forward pages only:
        one read backward (``last``, ``before``) is the resolver's."""
        if arguments.get("last") is not None or arguments.get("before") is not None:
            raise NotWritable("last")
        size = _page_size(arguments.get("first"))
        self.pays |= listing.compact
        keys, descending = listing.order(arguments)
        where = listing.where(workspace, arguments, self.parameter)
        table = TABLES[listing.node].name
        rows, page, counted = next(self.aliases), next(self.aliases), next(self.aliases)
        direction = " DESC" if descending else ""
        order = ", ".join(f"{rows}.{k.expression.name}{direction}" for k in keys)
        after = ""
        if arguments.get("after") is not None:
            try:
                values = decode_cursor(arguments["after"], keys)
            except ValidationFailed as error:
                raise NotWritable("after") from error  # the resolver reports it
            placeholders = [
                self.parameter(v, SQL_TYPES[k.type.python_type])
                for v, k in zip(values, keys, strict=True)
            ]
            columns = ", ".join(f"{rows}.{k.expression.name}" for k in keys)
            after = f" AND ({columns}) {'<' if descending else '>'} ({', '.join(placeholders)})"
        syntax = self.syntax
        pairs = []
        for f in connection.fields:
            if f.name == "__typename":
                value = syntax.typename(connection.type_name)
            elif f.name == "totalCount":
                kept = listing.total(workspace, arguments) if listing.total else None
                counting = f"(SELECT count(*) FROM {table} {counted} WHERE {where(counted)})"  # noqa: S608
                value = syntax.scalar(kept or counting)
            elif f.name == "edges" and f.child is not None:
                edge = self.edge(f.child, listing, page, keys)
                value = syntax.aggregate(edge, f" ORDER BY {page}._n", f"{page}._n <= {size}")
            elif f.name == "pageInfo" and f.child is not None:
                value = self.page_info(f.child, page, cursor(page, keys), size)
            else:
                raise NotWritable(f"{connection.type_name}.{f.name}")
            pairs.append((f.key, value))
        # The page: one more row than asked for, numbered in the page's order.
        selected = (
            f"SELECT {rows}.*, row_number() OVER (ORDER BY {order}) AS _n"  # noqa: S608
            f" FROM {table} {rows} WHERE {where(rows)}{after} ORDER BY {order} LIMIT {size + 1}"
        )
        # One row whatever the page holds (GROUP BY (): an aggregate even where no pair is).
        written = (
            f"(SELECT {syntax.object(pairs)}"  # noqa: S608
            f" FROM ({selected}) {page} GROUP BY ())"
        )
        if listing.admins_only:
            admin = f"{workspace} = ANY({self.administered()})"
            return syntax.nullable(f"CASE WHEN {admin} THEN {written} END")
        return written

    def edge(self, plan: PlannedObject, listing: Listing, page: str, keys: Any) -> str:
        syntax = self.syntax
        pairs = []
        for f in plan.fields:
            if f.name == "__typename":
                value = syntax.typename(plan.type_name)
            elif f.name == "cursor":
                value = syntax.json(f"to_json({cursor(page, keys)})")
            elif f.name == "node" and f.child is not None and f.child.type_name == listing.node:
                value = self.object(f.child, page)
            else:
                raise NotWritable(f"{plan.type_name}.{f.name}")
            pairs.append((f.key, value))
        return syntax.object(pairs)

    def page_info(self, plan: PlannedObject, page: str, cursor_of: str, size: int) -> str:
        syntax = self.syntax
        within = f"{page}._n <= {size}"
        values = {
            "__typename": syntax.typename(plan.type_name),
            "hasNextPage": syntax.json(f"to_json(count(*) > {size})"),
            "hasPreviousPage": syntax.json("to_json(false)"),
            "startCursor": syntax.json(
                f"to_json((array_agg({cursor_of}) FILTER (WHERE {page}._n = 1 AND {within}))[1])"
            ),
            "endCursor": syntax.json(
                f"to_json((array_agg({cursor_of} ORDER BY {page}._n DESC)"
                f" FILTER (WHERE {within}))[1])"
            ),
        }
        pairs = []
        for f in plan.fields:
            if f.name not in values or f.child is not None:
                raise NotWritable(f"{plan.type_name}.{f.name}")
            pairs.append((f.key, values[f.name]))
        return syntax.object(pairs)


def statement(plan: PlannedObject, *, scoped: bool, caller: Caller | None = None) -> Statement:
    """The statement writing each object of ``plan``'s type, by id ($1, a uuid array, in
    order; $2 the caller's workspaces when ``scoped``; then the arguments'): one row per
    id, its JSON text, or NULL where no row is visible. Raises ``NotWritable`` for what
    it cannot write."""
    if plan.type_name not in ROOTS:
        raise NotWritable(plan.type_name)
    writer = _Writer(scoped, caller or Caller())
    alias = next(writer.aliases)
    table = TABLES[plan.type_name]
    built = writer.object(plan, alias)
    return Statement(
        f"SELECT (SELECT {built}::text FROM {table.name} {alias}"  # noqa: S608
        f" WHERE {alias}.id = k.id{writer.scope(alias, table)})"
        " FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, n) ORDER BY k.n",
        tuple(writer.parameters),
    )


def operation(plan: PlannedObject, *, caller: Caller, compact: bool = True) -> Statement:
    """The statement writing a whole query operation's ``data`` (``plan``: the Query type's
    fields, each ``__typename`` or a lookup by id, ``json_fields.LOOKUPS``), always scoped
    to the caller's workspaces ($1, a uuid array): one row, its JSON text. Written as
    compact text, orjson's very bytes (``Statement.compact``), where it holds a listing
    or a lookup for which that was measured to pay (``Listing.compact``,
    ``Lookup.compact``), unless a leaf has no such
    text (``json_fields.Leaf``) or ``compact`` is false. Raises ``NotWritable`` for what
    it cannot write."""
    if len(plan.fields) > MAX_FIELDS:
        raise NotWritable(plan.type_name)
    if compact:
        writer = _Writer(True, caller, workspaces_at=1, compact=True)
        try:
            written = _operation(plan, writer)
        except _NotCompact:
            pass
        else:
            if writer.pays:
                return written
    return _operation(plan, _Writer(True, caller, workspaces_at=1))


def _operation(plan: PlannedObject, writer: _Writer) -> Statement:
    syntax = writer.syntax
    pairs = []
    for f in plan.fields:
        lookup = LOOKUPS.get(f.name)
        if f.name == "__typename":
            value = syntax.typename(plan.type_name)
        elif lookup is not None and f.child is not None and f.child.type_name == lookup.type_name:
            alias = next(writer.aliases)
            table = TABLES[lookup.type_name]
            found = writer.parameter(lookup.id_of(f.arguments or {}), "uuid")
            where = f"{alias}.id = {found}{writer.scope(alias, table)}"
            if lookup.live is not None:
                where += f" AND {lookup.live(alias)}"
            writer.pays |= lookup.compact
            built = writer.object(f.child, alias)
            value = syntax.nullable(f"(SELECT {built} FROM {table.name} {alias} WHERE {where})")  # noqa: S608
        else:
            raise NotWritable(f"{plan.type_name}.{f.name}")
        pairs.append((f.key, value))
    if not writer.parameters:  # nothing to read (only __typename, or every field skipped)
        raise NotWritable(plan.type_name)
    data = f"SELECT {syntax.text(syntax.object(pairs))}"
    return Statement(data, tuple(writer.parameters), compact=isinstance(syntax, _Text))


async def operation_written(
    connection: AsyncConnection, planned: Statement, workspaces: Iterable[UUID]
) -> str:
    """The operation's ``data`` as JSON text."""
    (text,) = await driver.texts(connection, planned.sql, (list(workspaces), *planned.parameters))
    assert isinstance(text, str)
    return text


def data_of(planned: Statement, text: str, *, embedded: bool) -> Any:
    """The operation's ``data`` from its text: as it is, for a response orjson encodes
    (``embedded``), where the text is orjson's own bytes; else read back."""
    if planned.compact and embedded:
        return orjson.Fragment(text)
    return orjson.loads(text)


async def written(
    connection: AsyncConnection,
    planned: Statement,
    ids: Iterable[UUID],
    workspaces: Iterable[UUID] | None,
) -> list[str | None]:
    """Each object's JSON text, in the order of ``ids``."""
    parameters: tuple[Any, ...] = (list(ids),)
    if workspaces is not None:
        parameters += (list(workspaces),)
    return await driver.texts(connection, planned.sql, parameters + planned.parameters)
