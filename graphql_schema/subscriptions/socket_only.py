"""Subscriptions run over the WebSocket only: that is where they are re-checked, limited
and dropped when slow. Over HTTP (strawberry would stream them as multipart) they are
refused before anything runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graphql_schema.context import Context

SOCKET_ONLY = GraphQLError(
    "Subscriptions are served over the WebSocket at /graphql (graphql-transport-ws) only.",
    extensions={"code": "BAD_REQUEST"},
)


class SubscriptionsOverSocketOnly(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if (
            execution.operation_type is OperationType.SUBSCRIPTION
            and isinstance(context, Context)
            and not context.is_socket
        ):
            execution.result = ExecutionResult(data=None, errors=[SOCKET_ONLY])
        yield
