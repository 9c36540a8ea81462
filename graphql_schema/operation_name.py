"""Refuse a document holding several operations when the request names none to run.

GraphQL lets a document carry several operations and the request choose one by
``operationName``. Without that name the choice is ambiguous, and parts of the
pipeline would answer it differently (execution ran the first operation, the
limits measure them all, the map read cache none), so such a document is refused
first, before limits, authentication or any SQL.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from graphql_schema.errors import OPERATION_NAME_REQUIRED


class OperationNameRequired(GraphQLError):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"The document holds {count} operations: name the one to run in `operationName`.",
            extensions={"code": OPERATION_NAME_REQUIRED},
        )


class RequireOperationName(SchemaExtension):
    """List it first: strawberry then skips validation and execution."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # ``operation_name`` falls back to the first operation's name: ask what was sent.
        # (Should strawberry rename it, every multi-operation document is refused.)
        sent = getattr(context, "_provided_operation_name", None)
        if document is not None and sent is None:
            count = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if count > 1:
                context.pre_execution_errors = [OperationNameRequired(count)]
        yield
