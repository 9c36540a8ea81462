"""Query limits (depth, aliases, estimated cost, page size, tokens) enforced before execution.

The checks run on the parsed document, before graphql-core's standard validation and long
before any resolver or SQL runs, so that a hostile document is refused cheaply:

* **tokens**: the parser aborts after ``max_tokens`` tokens (comments included).
* **depth**: nesting depth of field selections; ``{ a { b } }`` has depth 2. Fragment spreads
  and inline fragments add no depth of their own.
* **aliases**: every aliased field counts, once per spread of the fragment it sits in
  (a fragment with 5 aliases spread 3 times counts 15).
* **cost** (an estimate of the work the query asks for), defined recursively::

      cost(selection set) = sum of cost(field) over its fields, fragments expanded
      cost(field)         = own + multiplier * cost(sub-selection)
      own                 = 0 for ``__typename``; the field's entry in ``field_costs``
                            (keyed "Type.field", the type the field is selected on) for
                            fields whose resolver does far more work than reading a row;
                            else 1
      multiplier          = page size when the field returns a list (``[T]``, possibly
                            non-null) or a Relay connection (named type ending in
                            "Connection"), else 1
      page size           = the ``first`` argument, else ``last`` (literal, variable
                            value, or the variable's default), else ``default_page_size``;
                            except that a list field of a connection type (``edges``,
                            ``nodes``) without either has multiplier 1, since the
                            connection's own page size already counted its elements. A
                            negative size counts as 0.

  For example ``{ items(first: 10) { edges { node { children(first: 10) { id } } } } }``
  costs ``1 + 10 * (1 + (1 + (1 + 10 * 1)))`` = 131.
* **page size**: a ``first`` or ``last`` argument (on any field) whose value is above
  ``max_page_size`` or negative is refused.

Subtrees of the introspection fields ``__schema`` and ``__type`` are not counted, so
GraphiQL's introspection query passes. ``@skip``/``@include`` are ignored (counted as if
selected). Counts saturate at ``2**53 - 1``.

The analysis is linear in the size of the document: each fragment is analysed once and its
result reused (combined by addition, hence multiplication, per spread); a fragment cycle
contributes nothing where it closes (standard validation rejects the document later);
unknown fields and types cost 1 and carry no type information. The walk uses an explicit
stack, so deeply nested documents cannot exhaust the interpreter's recursion limit.

Usage::

    schema = strawberry.Schema(
        Query, extensions=[lambda: QueryLimitsExtension(QueryLimits(max_depth=10))]
    )

List ``QueryLimitsExtension`` before any extension that validates in ``on_validate``
(for example ``ValidationCache``), so the limits run before standard validation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import graphql
from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.error import GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from graphql_schema.passed_checks import PassedChecks, partition_of

__all__ = [
    "ERROR_CODE",
    "QueryLimits",
    "QueryLimitsExtension",
    "QueryShape",
    "analyze_operation",
    "check_limits",
]

ERROR_CODE: Final = "QUERY_TOO_COMPLEX"

# Counts saturate here: the largest integer a JavaScript client represents exactly. It also
# keeps the arithmetic on small integers whatever the document multiplies together.
_SATURATION: Final = 2**53 - 1
_INTROSPECTION_ROOTS: Final = frozenset({"__schema", "__type"})
_CONNECTION_SUFFIX: Final = "Connection"
_PAGE_SIZES: Final = ("first", "last")  # the arguments that size a page


@dataclass(frozen=True)
class QueryLimits:
    """Limits applied to every operation."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 3000
    max_cost: int = 20_000
    default_page_size: int = 20  # used for cost when a list field has no `first` or `last`
    max_page_size: int = 100  # `first` or `last` above this (or negative) is refused
    # Own cost of expensive fields, by "Type.field"; every other field costs 1.
    field_costs: Mapping[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class QueryShape:
    """What the analysis measured for an operation."""

    depth: int
    aliases: int
    cost: int


def analyze_operation(
    schema: graphql.GraphQLSchema,
    document: graphql.DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: QueryLimits,
) -> tuple[QueryShape, list[graphql.GraphQLError]]:
    """Measure the operation that would run, and report page-size violations.

    The operation is the one named ``operation_name`` (all of them if the name is duplicated,
    which validation rejects); without a name, the only operation of the document or, when
    there are several (which execution refuses), all of them. Each measure is the maximum
    over the operations analysed; a named operation that does not exist measures 0.
    The errors are the page-size violations, each located at its ``first`` or ``last``
    argument.
    """
    analysis = _analyze(schema, document, operation_name, variables, limits)
    return analysis.shape, analysis.page_size_errors


def check_limits(
    schema: graphql.GraphQLSchema,
    document: graphql.DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: QueryLimits,
    *,
    caller: bytes | None = None,
) -> list[graphql.GraphQLError]:
    """Return one error per violated limit; ``[]`` when the operation is within limits.

    An operation within limits is remembered by these arguments (``passed_checks``;
    ``caller`` names the caller's own memories) and passes again without the walk."""
    key = _PASSED.key(document, operation_name, variables, schema, limits, caller)
    if _PASSED.passed(key):
        return []
    analysis = _analyze(schema, document, operation_name, variables, limits)
    shape = analysis.shape
    errors: list[GraphQLError] = []
    if shape.depth > limits.max_depth:
        errors.append(
            _limit_error(
                f"Query depth {shape.depth} exceeds the limit of {limits.max_depth}.",
                analysis.deepest_field,
                "depth",
                limits.max_depth,
                shape.depth,
            )
        )
    if shape.aliases > limits.max_aliases:
        errors.append(
            _limit_error(
                f"Query alias count {shape.aliases} exceeds the limit of {limits.max_aliases}.",
                analysis.most_aliases,
                "aliases",
                limits.max_aliases,
                shape.aliases,
            )
        )
    if shape.cost > limits.max_cost:
        errors.append(
            _limit_error(
                f"Query estimated cost {shape.cost} exceeds the limit of {limits.max_cost}.",
                analysis.most_costly,
                "cost",
                limits.max_cost,
                shape.cost,
            )
        )
    errors.extend(analysis.page_size_errors)
    if not errors:
        _PASSED.add(key)
    return errors


_DEFAULT_LIMITS: Final = QueryLimits()
_PASSED: Final = PassedChecks()  # what check_limits passed


class QueryLimitsExtension(SchemaExtension):
    """Strawberry extension enforcing ``QueryLimits`` before validation and execution.

    Pass it as a factory, ``lambda: QueryLimitsExtension(limits)``, so each request gets its
    own instance. Refused operations return ``data: null`` and errors with
    ``extensions.code == "QUERY_TOO_COMPLEX"``.
    """

    def __init__(self, limits: QueryLimits = _DEFAULT_LIMITS) -> None:
        super().__init__()
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        try:
            yield
        except GraphQLError as error:
            # Another extension parsing in its own ``on_parse`` hook (ParserCache) raises the
            # parser's error out of that hook; strawberry then unwinds only the operation
            # hooks, not the ``on_parse`` hooks already entered, so it is tagged here.
            self._tag_token_error(error)
            raise

    def on_parse(self) -> Iterator[None]:
        yield
        # Strawberry's own parse catches the parser's GraphQLError inside the parsing step,
        # stores it as ``pre_execution_errors`` and returns the very same error object, which
        # can therefore still be tagged here, before the error is logged or streamed.
        context = self.execution_context
        if context.graphql_document is None and context.pre_execution_errors:
            for error in context.pre_execution_errors:
                self._tag_token_error(error)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # ``not errors`` rather than ``is None``: a validation cache earlier in the list may
        # already have stored ``[]`` for a valid document, which must not skip the limits.
        if context.graphql_document is not None and not context.pre_execution_errors:
            errors = check_limits(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                self.limits,
                caller=partition_of(context.context),
            )
            if errors:
                # Strawberry then skips its own validation and execution.
                context.pre_execution_errors = errors
        yield

    def _tag_token_error(self, error: GraphQLError) -> None:
        max_tokens = self.limits.max_tokens
        if isinstance(error, GraphQLSyntaxError) and (
            f"Document contains more than {max_tokens} tokens." in error.message
        ):
            # No "actual": the parser stops counting at the limit.
            error.extensions = {
                **(error.extensions or {}),
                "code": ERROR_CODE,
                "limit": "tokens",
                "max": max_tokens,
            }


# --------------------------------------------------------------------------- analysis


def _limit_error(
    message: str,
    node: graphql.Node | None,
    limit: str,
    maximum: int,
    actual: int,
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=node,
        extensions={"code": ERROR_CODE, "limit": limit, "max": maximum, "actual": actual},
    )


def _add(a: int, b: int) -> int:
    return min(a + b, _SATURATION)


def _mul(a: int, b: int) -> int:
    return min(a * b, _SATURATION)


def _clamp(value: int) -> int:
    return max(-_SATURATION, min(value, _SATURATION))


class _Measure(NamedTuple):
    depth: int
    aliases: int
    cost: int
    deepest: FieldNode | None  # a field at the greatest depth, to locate depth errors


_EMPTY: Final = _Measure(0, 0, 0, None)


@dataclass(frozen=True)
class _Analysis:
    shape: QueryShape
    page_size_errors: list[GraphQLError]
    deepest_field: FieldNode | None
    most_aliases: OperationDefinitionNode | None
    most_costly: OperationDefinitionNode | None


_ROOT: Final = 0
_FIELD: Final = 1
_INLINE: Final = 2
_FRAGMENT: Final = 3


class _Frame:
    """A selection set being walked, and how to fold its measure into its parent."""

    __slots__ = (
        "alias",
        "aliases",
        "cost",
        "deepest",
        "depth",
        "field",
        "fragment_name",
        "index",
        "kind",
        "multiplier",
        "own_cost",
        "parent_type",
        "selections",
    )

    def __init__(
        self,
        kind: int,
        selections: Sequence[SelectionNode],
        parent_type: GraphQLNamedType | None,
        *,
        field: FieldNode | None = None,
        own_cost: int = 0,
        multiplier: int = 1,
        alias: int = 0,
        fragment_name: str = "",
    ) -> None:
        self.kind = kind
        self.selections = selections
        self.parent_type = parent_type
        self.index = 0
        self.depth = 0
        self.aliases = 0
        self.cost = 0
        self.deepest: FieldNode | None = None
        self.field = field
        self.own_cost = own_cost
        self.multiplier = multiplier
        self.alias = alias
        self.fragment_name = fragment_name

    def fold(self, measure: _Measure) -> None:
        if measure.depth > self.depth:
            self.depth = measure.depth
            self.deepest = measure.deepest
        self.aliases = _add(self.aliases, measure.aliases)
        self.cost = _add(self.cost, measure.cost)


class _Analyzer:
    def __init__(
        self,
        schema: graphql.GraphQLSchema,
        document: graphql.DocumentNode,
        operations: Sequence[OperationDefinitionNode],
        variables: Mapping[str, Any] | None,
        limits: QueryLimits,
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.variables = variables
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments.setdefault(definition.name.value, definition)
        # Defaults of the analysed operations' variables (the first definition of a name
        # wins; several operations are only analysed together when none is selected).
        self.defaults: dict[str, ValueNode | None] = {}
        for operation in operations:
            for variable in operation.variable_definitions or ():
                self.defaults.setdefault(variable.variable.name.value, variable.default_value)
        self.memo: dict[str, _Measure] = {}
        self.in_progress: set[str] = set()
        self.page_size_errors: dict[int, GraphQLError] = {}

    def measure_operation(self, operation: OperationDefinitionNode) -> _Measure:
        root_type = self.schema.get_root_type(operation.operation)
        stack = [_Frame(_ROOT, operation.selection_set.selections, root_type)]
        while True:
            frame = stack[-1]
            if frame.index < len(frame.selections):
                selection = frame.selections[frame.index]
                frame.index += 1
                child = self._enter(frame, selection)
                if child is not None:
                    stack.append(child)
                continue
            stack.pop()
            measure = self._leave(frame)
            if not stack:
                return measure
            stack[-1].fold(measure)

    def _enter(self, frame: _Frame, selection: SelectionNode) -> _Frame | None:
        if isinstance(selection, FieldNode):
            return self._enter_field(frame, selection)
        if isinstance(selection, InlineFragmentNode):
            parent_type = frame.parent_type
            if selection.type_condition is not None:
                parent_type = self.schema.get_type(selection.type_condition.name.value)
            return _Frame(_INLINE, selection.selection_set.selections, parent_type)
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            known = self.memo.get(name)
            if known is not None:
                frame.fold(known)
                return None
            fragment = self.fragments.get(name)
            if fragment is None or name in self.in_progress:
                return None  # unknown fragment, or a cycle closing here: contributes nothing
            self.in_progress.add(name)
            return _Frame(
                _FRAGMENT,
                fragment.selection_set.selections,
                self.schema.get_type(fragment.type_condition.name.value),
                fragment_name=name,
            )
        return None

    def _enter_field(self, frame: _Frame, node: FieldNode) -> _Frame | None:
        name = node.name.value
        if name in _INTROSPECTION_ROOTS:
            return None
        size = self._page_size(node)
        parent_type = frame.parent_type
        own_cost = 0 if name == "__typename" else self._own_cost(parent_type, name)
        alias = 1 if node.alias is not None else 0
        multiplier = 1
        child_type: GraphQLNamedType | None = None
        if isinstance(parent_type, GraphQLObjectType | GraphQLInterfaceType):
            field_def = parent_type.fields.get(name)
            if field_def is not None:
                field_type = field_def.type
                if isinstance(field_type, GraphQLNonNull):
                    field_type = field_type.of_type
                is_list = isinstance(field_type, GraphQLList)
                child_type = get_named_type(field_type)
                if is_list or child_type.name.endswith(_CONNECTION_SUFFIX):
                    if size is not None:
                        multiplier = max(size, 0)
                    elif is_list and parent_type.name.endswith(_CONNECTION_SUFFIX):
                        multiplier = 1
                    else:
                        multiplier = self.limits.default_page_size
        if node.selection_set is None:
            frame.fold(_Measure(1, alias, own_cost, node))
            return None
        return _Frame(
            _FIELD,
            node.selection_set.selections,
            child_type,
            field=node,
            own_cost=own_cost,
            multiplier=multiplier,
            alias=alias,
        )

    def _own_cost(self, parent_type: GraphQLNamedType | None, name: str) -> int:
        if parent_type is None or not self.limits.field_costs:
            return 1
        return self.limits.field_costs.get(f"{parent_type.name}.{name}", 1)

    def _leave(self, frame: _Frame) -> _Measure:
        if frame.kind == _FIELD:
            return _Measure(
                frame.depth + 1,
                _add(frame.alias, frame.aliases),
                _add(frame.own_cost, _mul(frame.multiplier, frame.cost)),
                frame.deepest if frame.deepest is not None else frame.field,
            )
        measure = _Measure(frame.depth, frame.aliases, frame.cost, frame.deepest)
        if frame.kind == _FRAGMENT:
            self.memo[frame.fragment_name] = measure
            self.in_progress.discard(frame.fragment_name)
        return measure

    def _page_size(self, node: FieldNode) -> int | None:
        """The field's ``first`` argument, else its ``last``, recording a page-size error
        for either."""
        sizes: dict[str, int | None] = {}
        for argument in node.arguments or ():
            name = argument.name.value
            if name in _PAGE_SIZES:
                value = self._int_value(argument.value)
                if value is not None:
                    self._check_page_size(argument, value)
                sizes[name] = value
        first = sizes.get("first")
        return first if first is not None else sizes.get("last")

    def _check_page_size(self, argument: ArgumentNode, value: int) -> None:
        maximum = self.limits.max_page_size
        if 0 <= value <= maximum or id(argument) in self.page_size_errors:
            return
        name = argument.name.value
        if value < 0:
            message = f"Page size {value} (argument `{name}`) must not be negative."
        else:
            message = f"Page size {value} (argument `{name}`) exceeds the limit of {maximum}."
        self.page_size_errors[id(argument)] = _limit_error(
            message, argument, "page_size", maximum, value
        )

    def _int_value(self, value: ValueNode | None) -> int | None:
        if isinstance(value, IntValueNode):
            return _parse_int(value.value)
        if isinstance(value, VariableNode):
            name = value.name.value
            if self.variables is not None and name in self.variables:
                return _coerce_int(self.variables[name])
            default = self.defaults.get(name)
            return None if isinstance(default, VariableNode) else self._int_value(default)
        return None  # null, absent or not an integer (coercion will reject it later)


def _parse_int(text: str) -> int | None:
    digits = text.removeprefix("-")
    if not digits.isdigit():
        return None
    if len(digits) > 16:  # beyond the saturation bound; avoids converting huge literals
        return -_SATURATION if text.startswith("-") else _SATURATION
    return _clamp(int(text))


def _coerce_int(value: object) -> int | None:
    # Mirrors graphql-core's Int input coercion: ints, and floats with an integral value.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _clamp(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return _clamp(int(value))
    return None


def _select_operations(
    document: graphql.DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations
    return [op for op in operations if op.name is not None and op.name.value == operation_name]


def _analyze(
    schema: graphql.GraphQLSchema,
    document: graphql.DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: QueryLimits,
) -> _Analysis:
    operations = _select_operations(document, operation_name)
    analyzer = _Analyzer(schema, document, operations, variables, limits)
    total = _EMPTY
    most_aliases: OperationDefinitionNode | None = None
    most_costly: OperationDefinitionNode | None = None
    for operation in operations:
        measure = analyzer.measure_operation(operation)
        deepest = measure.deepest if measure.depth > total.depth else total.deepest
        if most_aliases is None or measure.aliases > total.aliases:
            most_aliases = operation
        if most_costly is None or measure.cost > total.cost:
            most_costly = operation
        total = _Measure(
            max(total.depth, measure.depth),
            max(total.aliases, measure.aliases),
            max(total.cost, measure.cost),
            deepest,
        )
    return _Analysis(
        shape=QueryShape(depth=total.depth, aliases=total.aliases, cost=total.cost),
        page_size_errors=list(analyzer.page_size_errors.values()),
        deepest_field=total.deepest,
        most_aliases=most_aliases,
        most_costly=most_costly,
    )
