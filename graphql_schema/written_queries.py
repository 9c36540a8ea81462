"""A query Postgres wrote whole, answered again without graphql-core.

When the planned engine answers a query of lookups with one statement
(``engine.PlannedExecutor.execute_root_grouped_field_set``), graphql-core, strawberry's
extension chain and its executor still surround that statement: about a quarter of the
API's CPU for a dashboard (docs/benchmarks.md, step 26). A document (its text and the
operation name sent) that was once answered that way is remembered here, and the next
request sending it with a known bearer token is answered by the same statement
directly, after the same checks, in the order the extensions make them:

1. the operation name: the document and name are the ones that passed before;
2. the limits, which read the variables (``limits.check_limits``);
3. the caller: a bearer token seen before, checked and its grants read afresh in the
   request's read transaction (``authentication.token_access``), as ``Authenticate``
   does;
4. the input guard (``input_guard.inspect_operation``);
5. the variables, coerced as graphql-core coerces them;
6. the statement made for this operation, variables and caller
   (``engine.OPERATIONS``), run on the shared reads bound as the caller.

Whatever any step would refuse, report or not know (a limit, no token, a session
cookie, a token not seen before or no longer good, a bad variable, no statement yet, a
failed statement) is not answered here: the request takes the ordinary way, which
says what it says. So this never answers anything the ordinary way would not, and the
answer is the same value (``tests/graphql/test_written_queries.py`` holds both to it).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode, OperationType
from graphql.execution.values import VariableValues, get_variable_values

from graphql_schema import engine, json_plans
from graphql_schema.authentication import KnownTokens, presented_token, token_access
from graphql_schema.context import Context
from graphql_schema.input_guard import inspect_operation
from graphql_schema.limits import QueryLimits, check_limits


class Written(NamedTuple):
    document: DocumentNode
    operation: OperationDefinitionNode


def _is_the_query_sent(written: Written, query: str, operation_name: str | None) -> bool:
    """Whether ``written`` was parsed from ``query`` and is the operation it names (or
    its only one), a query."""
    document, operation = written
    if document.loc is None or document.loc.source.body != query:
        return False
    if operation.operation is not OperationType.QUERY:
        return False
    if operation_name is not None:
        return operation.name is not None and operation.name.value == operation_name
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return operations == [operation]


class WrittenQueries:
    """Documents the engine wrote whole, by (text, operation name sent); LRU."""

    def __init__(
        self, schema: GraphQLSchema, limits: QueryLimits, known: KnownTokens, max_entries: int = 256
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.known = known
        self.max_entries = max_entries
        self._written: OrderedDict[tuple[str, str | None], Written] = OrderedDict()

    def remember(self, query: str, operation_name: str | None, written: Written) -> None:
        """After the ordinary way wrote the operation whole. The latest parse wins: the
        statements ``engine.OPERATIONS`` keeps are by the operation's node.

        Kept only if ``written`` is this very text's query, as named: a batch's
        operations run side by side on one context, and one of them may have set what
        another wrote (a batch once taught a mutation's text the answer of a query)."""
        if not _is_the_query_sent(written, query, operation_name):
            return
        key = (query, operation_name)
        self._written[key] = written
        self._written.move_to_end(key)
        while len(self._written) > self.max_entries:
            self._written.popitem(last=False)

    async def answer(
        self,
        context: Context,
        query: str | None,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> Any | None:
        """The operation's ``data``, or None: the ordinary way answers."""
        if query is None or context.is_socket or context.signed_in is not None:
            return None
        written = self._written.get((query, operation_name))
        if written is None:
            return None
        self._written.move_to_end((query, operation_name))
        data = None
        try:
            data = await self._answer(context, written, operation_name, variables or {})
        finally:
            if data is None:
                # The ordinary way begins its reads afresh (the caller, if signed in
                # here, stays signed in, as after a cached map read's sign-in).
                await context.end_reads()
        if data is None:
            engine.COUNTS["not answered directly"] += 1
        else:
            # Tallied with the engine's own (process-wide, for tests and the bench).
            engine.COUNTS["answered directly"] += 1
            engine.COUNTS["written operations"] += 1
            engine.COUNTS["written by postgres"] += 1
        return data

    async def _answer(
        self,
        context: Context,
        written: Written,
        operation_name: str | None,
        variables: dict[str, Any],
    ) -> Any | None:
        document, operation = written
        partition = context.checks_partition()
        if check_limits(
            self.schema, document, operation_name, variables, self.limits, caller=partition
        ):
            return None
        token = presented_token(context)
        if token is None or self.known.get(token) is None:
            return None  # the first request of a token, a session, no credential
        access = await token_access(context.db, self.known, token, reads=context.reads)
        if access is None:
            return None  # Authenticate says why
        context.sign_in(access)
        verdict = inspect_operation(
            self.schema, document, operation_name, variables, caller=partition
        )
        if verdict.refusal:
            return None
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), variables, max_errors=1
        )
        if not isinstance(coerced, VariableValues):
            return None
        caller = engine.caller_of(access)
        key = engine.OPERATIONS.key(operation, coerced.coerced, caller)
        found = None if key is None else engine.OPERATIONS.get(key, operation)
        if found is None or found[0] is None:
            return None  # not planned yet for these variables and caller, or not writable
        binding = access.binding()
        if not binding.app_scoping:
            return None
        try:
            async with context.reads.connection(binding) as connection:
                text = await json_plans.operation_written(
                    connection, found[0], binding.workspace_ids
                )
        except Exception:
            return None  # the ordinary way runs it again and reports what it finds
        return json_plans.data_of(found[0], text, embedded=True)  # over HTTP only
