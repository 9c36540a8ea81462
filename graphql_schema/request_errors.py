"""Codes for the errors graphql-core raises before execution, as Apollo's clients expect.

A document that does not parse, one that does not validate, and variables that cannot
be coerced to their types come back from graphql-core with a message and nothing a
client can branch on. Each is given ``extensions.code`` by the phase it came from:

- ``GRAPHQL_PARSE_FAILED``: the text is not a GraphQL document;
- ``GRAPHQL_VALIDATION_FAILED``: it asks for what the schema does not have;
- ``BAD_USER_INPUT``: a variable's value does not fit its type.

Errors that already have a code (the limits, the operation-name rule, signing in) keep
theirs. All of these are request errors: nothing was executed, so the answer has no
``data`` (``is_request_error``) and, for a client that accepts
``application/graphql-response+json``, an HTTP status saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"


def code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def _give_code(errors: Iterable[GraphQLError] | None, code: str) -> None:
    for error in errors or ():
        if code_of(error) is None:
            error.extensions = {**(error.extensions or {}), "code": code}


def is_request_error(data: object, errors: Iterable[GraphQLError] | None) -> bool:
    """Whether an operation's result is a request error: refused before any field ran.

    Every error raised while executing a field is located (it has a ``path``); a result
    with no data and only errors without one was never executed.
    """
    listed = list(errors or ())
    return data is None and bool(listed) and all(e.path is None for e in listed)


class CodeRequestErrors(SchemaExtension):
    """List it first: its code is given after every other extension's check ran."""

    def on_parse(self) -> Iterator[None]:
        yield
        _give_code(self.execution_context.pre_execution_errors, GRAPHQL_PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        _give_code(self.execution_context.pre_execution_errors, GRAPHQL_VALIDATION_FAILED)

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        # graphql-core refuses variables it cannot coerce before executing anything.
        if result is not None and is_request_error(result.data, result.errors):
            _give_code(result.errors, BAD_USER_INPUT)
