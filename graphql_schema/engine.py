"""Planned execution: a subtree built from rows in one pass, not field by field.

graphql-core completes every value on its own: a resolve info, the resolver through
strawberry's wrappers and extensions, an awaitable per async field, a completion per
list item and per leaf. A whole map read is some 1,900 fields that way. For any field's
value (a root field's map, a connection's edges, a relation's list) whose whole
selection below is made of

* ``__typename``,
* plain fields (no resolver: an attribute of the strawberry object), leaf or object,
* a relay Node's ``id`` (the type keeps strawberry's ``resolve_id``/``resolve_typename``),
* fields whose resolver is a known *relation* (``graphql_schema.relations``),

with no arguments, no directive other than ``@include``/``@skip`` (graphql-core's own
field collection applies those, and aliases, fragments and merging), no ``@defer``/
``@stream``, and no permission classes or field extensions, the executor below loads
each level once for all its objects through the relations (the same loaders, so the
same tenant-scoped reads and row-level security), and builds the response dicts
directly, leaves coerced by the schema's own scalars and enums. graphql-core receives
the finished value from ``complete_value`` and completes nothing below it.

On Postgres, a level whose every field is declared in ``graphql_schema.json_fields`` is
written by Postgres instead (``graphql_schema.json_plans``), and there a field may have
arguments: a *listing* (a workspace's page of maps, feedback or events), which only
Postgres writes; a plan holding one is planned only where the whole of it is writable.

Anything else in the selection leaves the value to graphql-core, as does any error
while planning or building: the same value is then completed the ordinary way (the
relations only read through the request's DataLoaders, whose cache answers the second
time), so error messages, paths and null propagation are graphql-core's own.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from graphql import (
    DocumentNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    get_named_type,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry import relay
from strawberry.relay.types import GlobalID

from backend.authz.access import Access
from backend.errors import Forbidden
from graphql_schema import json_plans
from graphql_schema.ordered_errors import OrderedErrors
from graphql_schema.relations import RELATIONS, Relation

_PLAIN_DIRECTIVES = frozenset({"include", "skip"})
# How often an entry field was built by its plan, fell back after an error, or had
# no plan (for tests and the bench; a process-wide tally).
COUNTS: Counter[str] = Counter()
_DEFINITION = "strawberry-definition"


class _NotPlanned(Exception):
    """The selection has something the planner does not know: run it the ordinary way."""


@dataclass(eq=False)
class FieldPlan:
    key: str  # the response key (alias or name)
    name: str  # the schema's name of the field
    complete: Callable[[Any], Any]  # a field's value -> its response value
    attribute: str | None = None  # read from the object (None: relation or constant)
    relation: Relation | None = None
    constant: Any = None  # __typename
    node_type: str | None = None  # a Node's id: GlobalID(node_type, attribute's value)
    child: ObjectPlan | None = None  # the selection below, for object-valued fields
    arguments: dict[str, Any] | None = None  # a listing's (Postgres writes it, or nobody)


@dataclass(eq=False)
class ObjectPlan:
    type_name: str
    fields: list[FieldPlan] = field(default_factory=list)
    loads: bool = False  # a relation somewhere below: rows to fetch before building
    json_only: bool = False  # a listing somewhere below: only Postgres can write it


def _leaf(named: Any) -> Callable[[Any], Any]:
    coerce = named.coerce_output_value

    def complete(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(f"{named} cannot represent {value!r}")
        return coerced

    return complete


def _wrap(type_: GraphQLOutputType, inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A completer for ``type_``'s lists and nullability around ``inner``."""
    if isinstance(type_, GraphQLNonNull):
        of = _wrap(type_.of_type, inner)

        def non_null(value: Any) -> Any:
            completed = of(value)
            if completed is None:
                raise TypeError("null for a non-null field")  # the fallback reports it
            return completed

        return non_null
    if isinstance(type_, GraphQLList):
        item = _wrap(type_.of_type, inner)

        def as_list(value: Any) -> Any:
            return None if value is None else [item(v) for v in value]

        return as_list

    def nullable(value: Any) -> Any:
        return None if value is None else inner(value)

    return nullable


def caller_of(access: Access) -> json_plans.Caller:
    """Who reads, for what Postgres writes: the person, and where they are ADMIN."""
    try:
        user_id: UUID | None = access.user_id
    except Forbidden:  # an ingestion token acts for no one
        user_id = None
    return json_plans.Caller(user_id, access.administered_workspaces())


def _walk(type_: GraphQLOutputType, value: Any, into: list[Any]) -> None:
    """The objects inside a field's value (through its lists), for the next level."""
    if value is None:
        return
    if isinstance(type_, GraphQLNonNull):
        _walk(type_.of_type, value, into)
    elif isinstance(type_, GraphQLList):
        for item in value:
            _walk(type_.of_type, item, into)
    else:
        into.append(value)


class OperationStatements:
    """Operations' statements (or None: not writable), by document, variables and caller.

    Planning a selection and writing its SQL is the same work for the same document,
    variables and caller: some 0.3 ms of a dashboard's request. The key holds the
    operation's node by identity; the entry keeps it alive, so no other document's node
    can take its id while the entry lasts. Variables that cannot be frozen into a key
    (nothing the schema accepts today) are planned every time.
    """

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, json_plans.Statement | None]] = (
            OrderedDict()
        )

    def key(
        self, operation: Any, variables: dict[str, Any], caller: json_plans.Caller
    ) -> tuple[Any, ...] | None:
        try:
            return (id(operation), _frozen(variables), caller)
        except TypeError:
            return None

    def get(
        self, key: tuple[Any, ...], operation: Any
    ) -> tuple[json_plans.Statement | None] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not operation:
            return None
        self._entries.move_to_end(key)
        return (entry[1],)

    def put(
        self, key: tuple[Any, ...], operation: Any, statement: json_plans.Statement | None
    ) -> None:
        self._entries[key] = (operation, statement)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _frozen(value: Any) -> Any:
    """A hashable form of coerced variable values; TypeError for what has none."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (list, tuple(_frozen(v) for v in value))
    hash(value)
    return (type(value), value)  # 1, 1.0 and True hash alike


OPERATIONS = OperationStatements()


class PlannedExecutor(OrderedErrors):
    """strawberry's executor, building planned subtrees itself (see the module's doc)."""

    document: DocumentNode  # set by ``build``

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rows fetched for planned subtrees: per relation plan, per parent object's id.
        self._fetched: dict[int, dict[int, Any]] = {}
        # Plans by (kind, selection): each selection is planned once a request.
        self._plans: dict[tuple[str, int], tuple[Any, object]] = {}
        # Values Postgres wrote, per object plan, per object's id.
        self._json: dict[int, dict[int, Any]] = {}

    @classmethod
    def build(cls, schema: Any, document: DocumentNode, *args: Any, **kwargs: Any) -> Any:
        built = super().build(schema, document, *args, **kwargs)
        if isinstance(built, PlannedExecutor):
            built.document = document
        return built

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        # Any field's value (a root field's map, a connection) whose whole selection
        # below is plannable is built from it directly, once, lists included.
        if result is not None and not isinstance(result, Exception):
            named = get_named_type(return_type)
            if is_object_type(named):
                planned = self._value_plan(named, return_type, field_details_list)
                if planned is not None:
                    COUNTS["planned values"] += 1
                    return self._complete_planned(
                        *planned,
                        return_type,
                        field_details_list,
                        info,
                        path,
                        result,
                        position_context,
                    )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_root_grouped_field_set(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        position_context: Any,
    ) -> Any:
        # A query whose every root field Postgres can write is one statement, its
        # ``data`` whole; anything else, or any error, runs the ordinary way.
        operation = None if serially else self._operation_statement(root_type, grouped_field_set)
        if operation is None:
            return super().execute_root_grouped_field_set(
                root_type, root_value, grouped_field_set, serially, position_context
            )

        async def written_then_ordinary() -> Any:
            try:
                data = await self._write_operation(operation)
            except Exception:
                COUNTS["fell back"] += 1
            else:
                COUNTS["written operations"] += 1
                # The document and operation, for ``written_queries`` to answer again.
                self.context_value.written = (self.document, self.operation)
                COUNTS["written by postgres"] += 1
                return data
            data = super(PlannedExecutor, self).execute_root_grouped_field_set(
                root_type, root_value, grouped_field_set, serially, position_context
            )
            return await data if self.is_awaitable(data) else data

        return written_then_ordinary()

    def _operation_statement(
        self, root_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> json_plans.Statement | None:
        """The statement writing the operation's data; None where Postgres cannot. Made
        once per document, variables and caller (``OPERATIONS``)."""
        context = self.context_value
        if context.db.dialect != "postgresql":
            return None
        try:
            caller = caller_of(context.access)
        except Exception:  # not signed in: the ordinary way says so
            return None
        key = OPERATIONS.key(self.operation, self.variable_values.coerced, caller)
        if key is not None and (found := OPERATIONS.get(key, self.operation)) is not None:
            return found[0]
        COUNTS["operations planned"] += 1
        try:
            plan = ObjectPlan(root_type.name)
            for details in grouped_field_set.values():
                name = details[0].node.name.value
                field_plan, _ = self._field_plan(root_type, name, details, lookup=True)
                plan.fields.append(field_plan)
            statement: json_plans.Statement | None = json_plans.operation(plan, caller=caller)
        except Exception:
            # _NotPlanned, NotWritable, an @include whose variable is null: the ordinary
            # way says what it says about each.
            statement = None
        if key is not None:
            OPERATIONS.put(key, self.operation, statement)
        return statement

    async def _write_operation(self, operation: json_plans.Statement) -> Any:
        context = self.context_value
        binding = context.access.binding()
        if not binding.app_scoping:
            raise _NotPlanned  # the lookups' resolvers scope by the access itself
        async with context.reads.connection(binding) as connection:
            text = await json_plans.operation_written(connection, operation, binding.workspace_ids)
        # Over HTTP the response is orjson's, which embeds the text as it is; a socket's
        # messages are encoded otherwise.
        return json_plans.data_of(operation, text, embedded=not context.is_socket)

    def _value_plan(
        self,
        type_: GraphQLObjectType,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
    ) -> tuple[ObjectPlan, Callable[[Any], Any]] | None:
        """The selection's plan and the completer of the field's value (lists and
        nullability around it), both made once a request."""

        def make() -> tuple[ObjectPlan, Callable[[Any], Any]]:
            plan = self._object_plan(type_, field_details_list)
            if plan.json_only and self._statement(plan) is None:
                raise _NotPlanned  # a listing below that Python cannot build
            return plan, _wrap(return_type, self._written_or_built(plan))

        planned: tuple[ObjectPlan, Callable[[Any], Any]] | None = self._once(
            "value", field_details_list, make
        )
        return planned

    def _complete_planned(
        self,
        plan: ObjectPlan,
        complete: Callable[[Any], Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if not plan.loads:
            try:
                return complete(result)
            except Exception:
                COUNTS["fell back"] += 1
                return super().complete_value(
                    return_type, field_details_list, info, path, result, position_context
                )

        async def loaded_then_built() -> Any:
            try:
                objects: list[Any] = []
                _walk(return_type, result, objects)
                await self._load_or_write(self.context_value.loaders, plan, objects)
                return complete(result)
            except Exception:
                COUNTS["fell back"] += 1
            completed = super(PlannedExecutor, self).complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if self.is_awaitable(completed):
                return await completed
            return completed

        return loaded_then_built()

    async def _write(self, plan: ObjectPlan, objects: list[Any]) -> bool:
        """Have Postgres write each object's value (``graphql_schema.json_plans``), for the
        builder to take; False where the plan is Python's to build."""
        written = self._json.setdefault(id(plan), {})
        if written:  # empty on SQLite and for plans Postgres cannot write: nothing to drop
            for o in objects:  # an id an earlier, freed object had must not find its value
                written.pop(id(o), None)
        context = self.context_value
        if not objects or not plan.loads or context.db.dialect != "postgresql":
            return False
        planned = self._statement(plan)
        if planned is None:
            return False
        binding = context.access.binding()
        async with context.reads.connection(binding) as connection:
            texts = await json_plans.written(
                connection,
                planned,
                [json_plans.ROOTS[plan.type_name](o) for o in objects],
                binding.workspace_ids if binding.app_scoping else None,
            )
        if any(text is None for text in texts):
            # An object gone or out of reach since it was read: Python's plan says how.
            return False
        # Read back (some 0.2 ms for a map) rather than passed on as written: Postgres
        # spaces its JSON out, and the response is then encoded like any other value.
        written.update({id(o): orjson.loads(t or "") for o, t in zip(objects, texts, strict=True)})
        COUNTS["written by postgres"] += 1
        return True

    def _statement(self, plan: ObjectPlan) -> json_plans.Statement | None:
        """The statement Postgres writes ``plan``'s objects with, once a request; None
        where it cannot."""
        access = self.context_value.access
        scoped = access.binding().app_scoping

        def make() -> json_plans.Statement:
            return json_plans.statement(plan, scoped=scoped, caller=caller_of(access))

        written: json_plans.Statement | None = self._once("json", plan, make)
        return written

    # Planning: from graphql-core's own collected fields, once per selection and request.

    def _once(self, kind: str, details: object, make: Callable[[], Any]) -> Any:
        """``make()``'s plan for this selection (or plan), made once a request; None if
        unplannable."""
        key = (kind, id(details))
        if key not in self._plans:
            try:
                plan = make()
            except Exception:
                # _NotPlanned, or an error of the selection itself (an @include whose
                # variable is null): graphql-core reports that one where it belongs.
                plan = None
            self._plans[key] = (plan, details)  # kept alive, so its id is not reused
        return self._plans[key][0]

    def _field_plan(
        self,
        parent_type: GraphQLObjectType,
        name: str,
        details: FieldDetailsList,
        *,
        lookup: bool = False,
    ) -> tuple[FieldPlan, GraphQLOutputType]:
        """``lookup``: a root field, read by id (json_fields.LOOKUPS); a field with
        arguments is planned only there or as a listing, both Postgres' to write."""
        if lookup:
            if name not in json_plans.LOOKUPS and name != "__typename":
                raise _NotPlanned
            takes_arguments = name in json_plans.LOOKUPS
        else:
            takes_arguments = self._listing(parent_type, name) is not None
        for detail in details:
            node = detail.node
            if (node.arguments and not takes_arguments) or detail.fragment_variable_values:
                raise _NotPlanned
            if any(d.name.value not in _PLAIN_DIRECTIVES for d in node.directives or ()):
                raise _NotPlanned
        key = details[0].node.alias.value if details[0].node.alias else name
        if name == "__typename":
            typename = FieldPlan(key, name, complete=lambda v: v, constant=parent_type.name)
            return typename, None  # type: ignore[return-value]
        if name.startswith("__"):
            raise _NotPlanned
        field_def = parent_type.fields.get(name)
        if field_def is None or (field_def.args and not takes_arguments):
            raise _NotPlanned
        definition = field_def.extensions.get(_DEFINITION)
        if definition is None or definition.permission_classes or definition.extensions:
            raise _NotPlanned
        type_ = field_def.type
        named = get_named_type(type_)
        relation = RELATIONS.get((parent_type.name, name))
        child: ObjectPlan | None = None
        if is_leaf_type(named):
            inner = _leaf(named)
        elif is_object_type(named):
            child = self._object_plan(named, details)
            inner = self._written_or_built(child)
        else:  # interfaces and unions: their runtime type is graphql-core's to find
            raise _NotPlanned
        plan = FieldPlan(key, name, complete=_wrap(type_, inner), child=child)
        if takes_arguments:
            # Merged fields have the same arguments (validation says so): the first's.
            plan.arguments = get_argument_values(field_def, details[0].node, self.variable_values)
        elif relation is not None:
            plan.relation = relation
        elif definition.base_resolver is None:
            plan.attribute = definition.python_name
        elif name == "id" and self._is_plain_node(parent_type):
            origin = parent_type.extensions[_DEFINITION].origin
            plan.attribute = origin.resolve_id_attr()
            plan.node_type = parent_type.name
        else:
            raise _NotPlanned
        return plan, type_

    def _object_plan(self, type_: GraphQLObjectType, details: FieldDetailsList) -> ObjectPlan:
        grouped, defer_usages, _forbidden = self.collect_subfields(type_, details)
        if defer_usages:
            raise _NotPlanned
        plan = ObjectPlan(type_.name)
        for sub_details in grouped.values():
            sub, sub_type = self._field_plan(type_, sub_details[0].node.name.value, sub_details)
            sub.type_ = sub_type  # type: ignore[attr-defined]
            plan.fields.append(sub)
            below = sub.child is not None and sub.child.json_only
            plan.json_only |= sub.arguments is not None or below
            plan.loads |= (
                sub.relation is not None
                or plan.json_only
                or (sub.child is not None and sub.child.loads)
            )
        return plan

    def _listing(self, parent_type: GraphQLObjectType, name: str) -> object | None:
        """The field's listing if Postgres can write it here (json_fields' tables)."""
        if self.context_value.db.dialect != "postgresql":
            return None
        table = json_plans.TABLES.get(parent_type.name)
        return None if table is None else table.listings.get(name)

    @staticmethod
    def _is_plain_node(parent_type: GraphQLObjectType) -> bool:
        definition = parent_type.extensions.get(_DEFINITION)
        origin = getattr(definition, "origin", None)
        return (
            isinstance(origin, type)
            and issubclass(origin, relay.Node)
            and origin.resolve_id.__func__ is relay.Node.resolve_id.__func__  # type: ignore[attr-defined]
            and origin.resolve_typename.__func__ is relay.Node.resolve_typename.__func__  # type: ignore[attr-defined]
        )

    def _written_or_built(self, plan: ObjectPlan) -> Callable[[Any], Any]:
        """An object's value: as Postgres wrote it for this plan, or built from rows."""
        build = self._builder(plan)
        written = self._json.setdefault(id(plan), {})

        def complete(obj: Any) -> Any:
            value = written.get(id(obj))
            return build(obj) if value is None else value

        return complete

    def _builder(self, plan: ObjectPlan) -> Callable[[Any], dict[str, Any]]:
        def build(obj: Any) -> dict[str, Any]:
            fetched = self._fetched
            out: dict[str, Any] = {}
            for f in plan.fields:
                if f.attribute is not None:
                    value = getattr(obj, f.attribute)
                    if f.node_type is not None:
                        value = GlobalID(type_name=f.node_type, node_id=str(value))
                elif f.relation is not None:
                    value = fetched[id(f)][id(obj)]
                else:
                    out[f.key] = f.constant
                    continue
                out[f.key] = f.complete(value)
            return out

        return build

    # Running: one batch per relation and level, then one pass building the dicts.

    async def _load_or_write(self, loaders: Any, plan: ObjectPlan, objects: list[Any]) -> None:
        """Postgres writes the objects' values if it can, else their rows are loaded."""
        if not await self._write(plan, objects):
            await self._load_level(loaders, plan, objects)

    async def _load_level(self, loaders: Any, plan: ObjectPlan, objects: list[Any]) -> None:
        """Fetch every relation of ``plan`` for all ``objects``, then the levels below."""
        if not objects:
            return
        if plan.json_only:
            raise _NotPlanned  # Postgres did not write it (a row gone): the ordinary way

        relations = [f for f in plan.fields if f.relation is not None]
        values = await asyncio.gather(*(f.relation(loaders, objects) for f in relations))  # type: ignore[misc]
        below = []
        for f, found in zip(relations, values, strict=True):
            # Keyed by the objects' ids (alive while their run builds): runs of one plan
            # for several parents (a list of maps) add to the same table.
            self._fetched.setdefault(id(f), {}).update(
                {id(o): v for o, v in zip(objects, found, strict=True)}
            )
            if f.child is not None:
                children: list[Any] = []
                for v in found:
                    _walk(f.type_, v, children)  # type: ignore[attr-defined]
                below.append(self._load_or_write(loaders, f.child, children))
        for f in plan.fields:
            if f.attribute is not None and f.child is not None:
                children = []
                for o in objects:
                    _walk(f.type_, getattr(o, f.attribute), children)  # type: ignore[attr-defined]
                below.append(self._load_or_write(loaders, f.child, children))
        if below:
            await asyncio.gather(*below)
