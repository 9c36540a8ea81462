"""The API's input limits, checked on every operation before any resolver runs.

No list holds more than ``MAX_LIST`` items, no string more than ``MAX_STRING``
characters, a NUL or a lone surrogate, and no ``DateTime`` lies outside the range
``backend.validation`` takes. Variables are not tokens: a 100,000-item list sent as a
variable passes the document limits (``graphql_schema/limits.py``) and graphql-core
would coerce it item by item before a service could count it. So each variable is
walked once along its declared type, and each literal argument along its argument's
type: one pass over what was sent, a list's length looked at before its items.

What is found is answered where the caller looks for it:

* a list over the limit refuses the whole operation, top-level, before graphql-core
  coerces it: ``extensions: {code: VALIDATION, field: "input.goals"}``;
* anything else in a mutation's arguments becomes that mutation's payload error
  (``errors: [{code: VALIDATION, field: "input.item.tags[0]"}]``) and its resolver does
  not run (``InputProblems``, on every mutation); the document's other mutations run;
* anything else in the arguments of a query field (or a field nested in a mutation's
  selection) refuses the operation, top-level, like any bad query argument.

Each field's own, smaller caps are its service's (``backend.validation``): a persona's
50 goals are a payload error from the service, 100,000 goals are refused here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    type_from_ast,
)
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import ExecutionResult, Info

from backend import validation
from backend.errors import ErrorCode
from graphql_schema.context import Context
from graphql_schema.errors import UserError
from graphql_schema.input_findings import Finding, Path
from graphql_schema.passed_checks import PassedChecks, partition_of

# Twice the longest list any field takes: a list just over its own field's cap is told
# so by that field's service, in the payload; one far over it is never coerced.
MAX_LIST = 2 * validation.MAX_LIST
MAX_STRING = validation.MAX_STRING
DATETIME = "DateTime"  # graphql_schema/scalars.py
# Problems told per argument: enough for any form, and a request of a million NULs is
# not answered with a million errors.
MAX_FINDINGS = 100


class Found(NamedTuple):
    """The first list over the limit (it refuses the operation), and every other problem
    (a form with two of them is told both at once)."""

    oversized: Finding | None = None
    problems: tuple[Finding, ...] = ()

    def under(self, prefix: Path, node: Node) -> Found:
        return Found(
            self.oversized.under(prefix, node) if self.oversized else None,
            tuple(problem.under(prefix, node) for problem in self.problems),
        )


def _too_many(path: Path, node: Node | None = None) -> Finding:
    return Finding(path, f"At most {MAX_LIST} items in any list.", node)


# What a value of an input type is walked for: text (a string scalar, ids included), a
# time (DateTime), a list, an input object; None for what holds no string (numbers,
# booleans, enums: graphql-core checks those whole).
_TEXT, _TIME, _LIST, _OBJECT = range(4)
_NO_STRINGS = frozenset({"Int", "Float", "Boolean"})
Plan = tuple[int, Any] | None


def _plan(type_: Any) -> Plan:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return (_LIST, type_.of_type)
    if isinstance(type_, GraphQLInputObjectType):
        return (_OBJECT, type_)
    if isinstance(type_, GraphQLScalarType) and type_.name not in _NO_STRINGS:
        return (_TIME, None) if type_.name == DATETIME else (_TEXT, None)
    return None


_FIELDS: WeakKeyDictionary[GraphQLInputObjectType, tuple[tuple[str, int, Any], ...]] = (
    WeakKeyDictionary()
)


def _fields_of(type_: GraphQLInputObjectType) -> tuple[tuple[str, int, Any], ...]:
    """The fields of an input type that can hold a string, with their plans; kept per type
    (a batch of 1,000 items asks 1,000 times)."""
    found = _FIELDS.get(type_)
    if found is None:
        found = tuple(
            (name, *plan) for name, field in type_.fields.items() if (plan := _plan(field.type))
        )
        _FIELDS[type_] = found
    return found


def leaf_problem(value: str, kind: int) -> str | None:
    """What is wrong with a string (``_TEXT``) or a time (``_TIME``) anywhere in an input."""
    if kind == _TEXT and len(value) <= MAX_STRING and value.isascii() and "\x00" not in value:
        return None  # most strings: three cheap tests, no call
    problem = validation.string_problem(value, max_length=MAX_STRING)
    if problem is None and kind == _TIME:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None  # the scalar says what is wrong with it
        if moment.tzinfo is not None:  # without one, the scalar refuses it
            problem = validation.time_problem(moment)
    return problem


def check_value(value: Any, type_: GraphQLInputType) -> Found:
    """What is wrong with a variable's JSON value, along its declared type; paths are
    relative to the variable. Unknown fields and wrong shapes are left to graphql-core,
    which refuses them without walking them. Strings are checked where they are found;
    only containers go on the stack."""
    problems: list[Finding] = []
    stack: list[tuple[Any, Plan, Path]] = [(value, _plan(type_), ())]
    while stack:
        value, plan, path = stack.pop()
        if value is None or plan is None:
            continue
        kind, inner = plan
        if kind == _LIST:
            item = _plan(inner)
            if type(value) is not list:
                stack.append((value, item, path))  # one value stands for a list of one
            elif len(value) > MAX_LIST:
                return Found(_too_many(path), tuple(problems))
            elif item is None:
                pass
            elif item[0] in (_TEXT, _TIME):
                for index, entry in enumerate(value):
                    message = leaf_problem(entry, item[0]) if type(entry) is str else None
                    if message is not None and len(problems) < MAX_FINDINGS:
                        problems.append(Finding((*path, index), message))
            else:
                stack.extend((value[i], item, (*path, i)) for i in reversed(range(len(value))))
        elif kind == _OBJECT:
            if type(value) is not dict:
                continue
            # The object's own strings first, in declared order; its lists and objects
            # after, each in turn (pushed in reverse, so popped in order).
            containers = []
            for name, field_kind, field_inner in _fields_of(inner):
                entry = value.get(name)
                if entry is None:
                    continue
                if field_kind in (_TEXT, _TIME):
                    if type(entry) is str:
                        message = leaf_problem(entry, field_kind)
                        if message is not None and len(problems) < MAX_FINDINGS:
                            problems.append(Finding((*path, name), message))
                else:
                    containers.append((entry, (field_kind, field_inner), (*path, name)))
            stack.extend(reversed(containers))
        elif type(value) is str:
            message = leaf_problem(value, kind)
            if message is not None and len(problems) < MAX_FINDINGS:
                problems.append(Finding(path, message))
    return Found(None, tuple(problems))


def check_literal(node: ValueNode, type_: GraphQLInputType, variables: dict[str, Found]) -> Found:
    """The same for an argument written in the document (bounded by the token limit); a
    variable in it brings what ``check_value`` found in its value, under the path where
    it is used."""
    problems: list[Finding] = []
    stack: list[tuple[ValueNode, Plan, Path]] = [(node, _plan(type_), ())]
    while stack:
        node, plan, path = stack.pop()
        if isinstance(node, VariableNode):
            found = variables.get(node.name.value, Found()).under(path, node)
            if found.oversized is not None:
                return Found(found.oversized, tuple(problems))
            problems.extend(found.problems[: MAX_FINDINGS - len(problems)])
            continue
        if plan is None:
            continue
        kind, inner = plan
        if kind == _LIST:
            item = _plan(inner)
            if not isinstance(node, ListValueNode):
                stack.append((node, item, path))
            elif len(node.values) > MAX_LIST:
                return Found(_too_many(path, node), tuple(problems))
            else:
                values = node.values
                stack.extend((values[i], item, (*path, i)) for i in reversed(range(len(values))))
        elif kind == _OBJECT:
            if isinstance(node, ObjectValueNode):
                fields = inner.fields
                for field_node in reversed(node.fields):
                    name = field_node.name.value
                    if name in fields:
                        stack.append((field_node.value, _plan(fields[name].type), (*path, name)))
        elif isinstance(node, StringValueNode):
            message = leaf_problem(node.value, kind)
            if message is not None and len(problems) < MAX_FINDINGS:
                problems.append(Finding(path, message, node))
    return Found(None, tuple(problems))


def _fields(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> Iterator[tuple[FieldNode, GraphQLField, bool]]:
    """Every field of the operation with its definition, and whether it is a root field
    written in the operation itself; each fragment once."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    seen: set[str] = set()
    stack: list[tuple[SelectionSetNode, GraphQLNamedType | None, bool]] = [
        (operation.selection_set, schema.get_root_type(operation.operation), True)
    ]
    while stack:
        selections, parent, at_root = stack.pop()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                fields = (
                    parent.fields
                    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                    else {}
                )
                definition = fields.get(selection.name.value)
                if definition is None:  # __typename, introspection, or invalid
                    continue
                yield selection, definition, at_root
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, get_named_type(definition.type), False))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = schema.get_type(condition.name.value) if condition else parent
                stack.append((selection.selection_set, on, at_root))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                seen.add(name)
                on = schema.get_type(fragment.type_condition.name.value)
                stack.append((fragment.selection_set, on, False))


class Verdict(NamedTuple):
    refusal: GraphQLError | None
    # Per root mutation field (by node): what its payload answers instead of running.
    payload_errors: dict[int, tuple[Finding, ...]]


_PASSED = PassedChecks()  # the operations inspect_operation found nothing in


def inspect_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    *,
    caller: bytes | None = None,
) -> Verdict:
    """What the operation's arguments and variables break, if anything. An operation in
    which nothing is found is remembered by these arguments (``passed_checks``;
    ``caller`` names the caller's own memories) and is found clean again without the
    walk."""
    key = _PASSED.key(document, operation_name, variables, schema, caller)
    if _PASSED.passed(key):
        return Verdict(None, {})
    verdict = _inspected(schema, document, operation_name, variables)
    if verdict.refusal is None and not verdict.payload_errors:
        _PASSED.add(key)
    return verdict


def _inspected(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Verdict:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Verdict(None, {})  # graphql-core says which operation is missing
    values = variables or {}
    checked: dict[str, Found] = {}
    for variable in operation.variable_definitions or ():
        name = variable.variable.name.value
        declared: Any = type_from_ast(schema, variable.type)
        if declared is None:
            continue  # an unknown type: validation has refused the document
        if name in values:
            checked[name] = check_value(values[name], declared)
        elif variable.default_value is not None:
            checked[name] = check_literal(variable.default_value, declared, {})
    mutation = operation.operation is OperationType.MUTATION
    payload_errors: dict[int, tuple[Finding, ...]] = {}
    elsewhere: Finding | None = None
    for node, definition, at_root in _fields(schema, document, operation):
        for argument in node.arguments or ():
            declared_argument = definition.args.get(argument.name.value)
            if declared_argument is None:
                continue
            found = check_literal(argument.value, declared_argument.type, checked).under(
                (argument.name.value,), argument
            )
            if found.oversized is not None:
                return Verdict(_refusal(found.oversized), {})
            if not found.problems:
                continue
            if mutation and at_root:
                told = payload_errors.get(id(node), ()) + found.problems
                payload_errors[id(node)] = told[:MAX_FINDINGS]
            else:
                elsewhere = elsewhere or found.problems[0]
    if elsewhere is not None:
        return Verdict(_refusal(elsewhere), {})
    return Verdict(None, payload_errors)


def _refusal(finding: Finding) -> GraphQLError:
    return GraphQLError(
        finding.message,
        nodes=[finding.node] if finding.node is not None else None,
        extensions={"code": str(ErrorCode.VALIDATION), "field": finding.field},
    )


class InputGuard(SchemaExtension):
    """Runs ``inspect_operation`` once the caller is known (anonymous callers learn
    nothing about arguments), before graphql-core reads the variables."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            verdict = inspect_operation(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                caller=partition_of(context.context),
            )
            if verdict.refusal is not None:
                context.result = ExecutionResult(data=None, errors=[verdict.refusal])
            elif verdict.payload_errors:
                request = context.context
                assert isinstance(request, Context)
                request.input_problems.update(verdict.payload_errors)
        yield


class InputProblems(FieldExtension):
    """On every mutation: answer with the payload's errors what ``InputGuard`` found in its
    arguments, instead of running it. Every payload takes ``errors`` alone."""

    def _answer(self, info: Info[Context, None]) -> Any | None:
        findings = info.context.input_problems.get(id(info._raw_info.field_nodes[0]))
        if not findings:
            return None
        errors = [
            UserError(code=ErrorCode.VALIDATION, message=finding.message, field=finding.field)
            for finding in findings
        ]
        payload: Any = info.return_type
        return payload(errors=errors)

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        answer = self._answer(info)
        return answer if answer is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        answer = self._answer(info)
        return answer if answer is not None else await next_(source, info, **kwargs)
