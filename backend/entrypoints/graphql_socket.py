"""GraphQL over WebSocket (graphql-transport-ws): text frames, one context per operation.

Strawberry builds one context per socket and hands it to every operation. Ours gets
a copy per operation instead, so each operation authenticates afresh (a token revoked
or a session ended meanwhile is refused at the next operation) and concurrent
operations never share their caller's access or DataLoaders.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from backend.entrypoints.http.persisted_queries import PersistedDocuments, PersistedQueryError
from graphql_schema.context import Context

# The legacy ``graphql-ws`` protocol is not offered: one protocol, one set of rules.
PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)

# The context of the operation running in this task (each operation is a task of its own).
_operation_context: ContextVar[Context | None] = ContextVar(
    "waypost_operation_context", default=None
)


class TextFrames(ASGIWebSocketAdapter):
    """Sends every message as a text frame: clients (the `graphql-ws` npm package among
    them) drop binary frames, and our JSON encoder returns bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class ContextPerOperation(BaseGraphQLTransportWSHandler[Context, None]):
    """The socket's context stays the connection's (its connectionParams); each
    operation runs with its own copy of it."""

    _connection_context: Context

    @property
    def context(self) -> Context:
        return _operation_context.get() or self._connection_context

    @context.setter
    def context(self, value: Context) -> None:
        self._connection_context = value

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """A document sent by hash is found, and in trusted-documents mode an unlisted
        one refused, as over HTTP (``persisted_queries``); documents are kept from HTTP
        requests only, where the operation's outcome is known."""
        payload = message["payload"]
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # closed as strawberry closes it
            return
        query, extensions = payload.get("query"), payload.get("extensions")
        if not isinstance(query, str | None) or not isinstance(extensions, dict | None):
            await self.websocket.close(4400, "query must be a string, extensions an object")
            return
        view = self.view
        assert isinstance(view, PersistedDocuments)
        # Each operation on a socket counts against the rate limits as a request would.
        wait = await view.rate_limits.wait_for(
            "graphql",
            self.websocket.ws.scope,  # type: ignore[attr-defined]
            self._connection_context.presented().authorization,
        )
        if wait is not None:
            refused = GraphQLError(
                f"Too many requests: try again in {wait} seconds.",
                extensions={"code": "RATE_LIMITED", "retryAfter": wait},
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [refused.formatted]}
            )
            return
        try:
            found = await view.persisted.document(
                query, extensions, view.partition_of(self._connection_context)
            )
        except PersistedQueryError as refused:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [refused.error.formatted]}
            )
            return
        if found is not None and found != query:
            message = {**message, "payload": {**payload, "query": found}}
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # Runs as the operation's own task: the variable is set for it alone.
        _operation_context.set(self._connection_context.for_operation())
        await super().run_operation(operation)
