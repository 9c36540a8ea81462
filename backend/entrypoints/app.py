"""The ASGI application: composes settings, database, GraphQL and HTTP routes."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from backend.auth.oidc import OidcClient
from backend.db.engine import Database, database_from_settings
from backend.edge.access_log import redact_access_log
from backend.edge.body_limit import BodyLimitMiddleware
from backend.edge.cors import ListedOriginsCORS
from backend.edge.headers import CSP, SecurityHeadersMiddleware, page_policy
from backend.entrypoints import graphiql
from backend.entrypoints.graphql_socket import PROTOCOLS, ContextPerOperation, TextFrames
from backend.entrypoints.http.graphql_over_http import (
    JSON,
    Body,
    TransportError,
    media_type_for,
    note_client_mistake,
    status_for,
    transport_code,
    transport_error,
    www_authenticate,
)
from backend.entrypoints.http.ingestion import ingestion_routes
from backend.entrypoints.http.persisted_queries import (
    PERSISTED_QUERY_NOT_FOUND,
    Partition,
    PersistedQueries,
    PersistedQueryError,
    load_trusted_documents,
)
from backend.entrypoints.http.plain import (
    REQUEST_ID_HEADER,
    RequestIdMiddleware,
    UnexpectedErrorMiddleware,
    healthz,
    readyz_endpoint,
    request_id_of,
    unexpected_error_response,
)
from backend.entrypoints.http.sso import auth_routes
from backend.json_output import dumps
from backend.outbox.live import LiveEvents
from backend.ratelimit import RateLimitMiddleware, RateLimits
from backend.settings import Settings, get_settings
from graphql_schema.authentication import KnownTokens, refusal_for
from graphql_schema.batches import BatchItem, check_batch
from graphql_schema.context import Context
from graphql_schema.credentials import trusted_origins
from graphql_schema.errors import mask_escaped, masked_exception
from graphql_schema.map_read_cache import MapReadCache
from graphql_schema.private_schema import hidden_from, schema_is_private
from graphql_schema.request_errors import code_of, is_request_error
from graphql_schema.schema import API_LIMITS, build_schema
from graphql_schema.subscriptions.feed import LiveFeed
from graphql_schema.written_queries import Written, WrittenQueries
from workers.background import Background
from workers.broker import is_in_process

logger = logging.getLogger("waypost")


class GraphQLApp(GraphQL[Context, None]):
    websocket_adapter_class = TextFrames
    graphql_transport_ws_handler_class = ContextPerOperation

    def __init__(
        self,
        settings: Settings,
        database: Database,
        oidc: OidcClient,
        rate_limits: RateLimits,
        live: LiveEvents,
    ) -> None:
        # Bearer tokens' owners, shared by the operations, a batch refused before they
        # run and the queries answered directly.
        self.known_tokens = KnownTokens()
        schema = build_schema(settings, known=self.known_tokens)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.introspection_enabled else None,
            allow_queries_via_get=True,
            subscription_protocols=PROTOCOLS,
            # A socket's handshake is refused from a page on any site but this one and
            # those listed for CORS (strawberry also lets through an Origin naming the
            # Host it reached, and clients that send no Origin); the cookie counts only
            # from these (credentials.py).
            allowed_origins=trusted_origins(settings),
        )
        self.settings = settings
        # Strawberry counts every operation in flight on the socket, not only subscriptions.
        self.max_subscriptions_per_connection = settings.subscriptions_per_connection
        self.live = LiveFeed(live, settings)
        self.graphql_schema = schema._schema  # what the batch's limits are measured on
        self.written_queries = (
            WrittenQueries(self.graphql_schema, API_LIMITS, self.known_tokens)
            if settings.planned_reads
            else None
        )
        self.database = database
        self.oidc = oidc
        self.map_reads = MapReadCache(settings.map_read_cache_mb * 1024 * 1024)
        self.rate_limits = rate_limits
        self.persisted = PersistedQueries(
            broker_url=settings.broker_url,
            trusted=load_trusted_documents(settings.trusted_documents)
            if settings.trusted_documents
            else None,
            allowance=lambda key: rate_limits.allows("persisted_query_credential", key),
        )
        # At most as many GraphQL requests in flight per process as the pool keeps
        # connections: the rest queue here, cheaply, instead of each opening (and
        # closing) an overflow connection. The overflow stays for a request that
        # briefly needs a second connection.
        self._in_flight = asyncio.Semaphore(settings.database_pool_size)
        self._ide_policy = page_policy(self.graphql_ide_html) if self.graphql_ide else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a subscription holds its socket for long
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        async with self._in_flight:
            try:
                response = await self.run(request)
            except HTTPException as error:  # strawberry's would be plain text
                response = transport_error(error, media_type_for(request.headers.get("accept")))
                note_client_mistake(request_id_of(scope), [transport_code(error)])
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming its document by hash only (a persisted query) is GraphQL, not a
        # browser asking for the IDE, whatever its Accept says.
        return request.query_params.get("extensions") is None and super().should_render_graphql_ide(
            request
        )

    async def parse_http_body(self, request: Any) -> Any:
        # strawberry answers a body in another media type 400; HTTP says 415.
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and "application/json" not in content_type:
            raise TransportError(
                415, "Send the request as application/json.", "UNSUPPORTED_MEDIA_TYPE"
            )
        return await super().parse_http_body(request)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = media_type_for(request.headers.get("accept"))
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        if is_request_error(result.data, result.errors):
            body.pop("data", None)  # nothing was executed: there is no data, not even null
            codes = [code_of(e) for e in result.errors or ()]
            if codes != [PERSISTED_QUERY_NOT_FOUND]:  # a step of the protocol, no mistake
                note_client_mistake(request_id_of(request.scope), codes)
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        bodies = response_data if isinstance(response_data, list) else [response_data]
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        if sub_response.status_code is None:  # a resolver may have set one: it stays
            response.status_code = status_for(cast(list[Body], bodies), media_type)
            if response.status_code == 401:
                response.headers["www-authenticate"] = www_authenticate(cast(list[Body], bodies))
        return response

    @property
    def graphql_ide_html(self) -> str:
        return graphiql.page()  # strawberry's loads its files from a CDN; ours are served here

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self.graphql_ide_html, headers={CSP: self._ide_policy})

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """Parse a request body, refusing anything that is not GraphQL-over-HTTP shaped."""
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, too deep
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        for item in value if isinstance(value, list) else [value]:
            _check_request_shape(item)
        return value

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Documents sent by hash are found first (``backend.entrypoints.http.persisted_queries``);
        a batch is then measured as a whole (``graphql_schema.batches``)."""
        sent = kwargs["request_data"]
        partition = self.partition_of(kwargs["context"])
        found = [
            await self._with_document(d, partition)
            for d in (sent if isinstance(sent, list) else [sent])
        ]
        batch = found if isinstance(sent, list) else found[0]
        kwargs["request_data"] = batch
        if isinstance(batch, list):
            context: Context = kwargs["context"]
            try:
                measured = [d for d in batch if not isinstance(d, Unanswerable)]
                refused = await self._refused_batch(measured, context)
            except Exception as error:
                refused = [masked_exception(error, context.request_id)]
            finally:
                await context.end_reads()  # the sign-in's, if it refused the batch
            if refused:
                return [ExecutionResult(data=None, errors=refused) for _ in batch]
        return await super().execute_operation(*args, **kwargs)

    async def _refused_batch(
        self, batch: list[GraphQLRequestData], context: Context
    ) -> list[GraphQLError]:
        items = [BatchItem(d.query, d.operation_name, d.variables) for d in batch]
        errors = check_batch(self.graphql_schema, items, API_LIMITS)
        if (
            errors
            and schema_is_private(self.settings)
            and await hidden_from(context, self.known_tokens)
        ):
            return [await refusal_for(context)]
        return errors

    def partition_of(self, context: Context) -> Partition:
        """Whose persisted queries a request may find: its credential's, as presented
        (checked or not: a bad one is refused later, and finds only its own)."""
        sent = context.presented()
        credential = sent.authorization or (
            f"session:{sent.session_secret}" if sent.session_secret else None
        )
        return self.rate_limits.keyed(credential) if credential else None

    async def _with_document(
        self, data: GraphQLRequestData, partition: Partition
    ) -> GraphQLRequestData:
        try:
            query = await self.persisted.document(data.query, data.extensions, partition)
        except PersistedQueryError as error:
            return Unanswerable(None, data.variables, data.operation_name, None, error=error.error)
        if query is data.query:
            return data
        return FoundByHash(query, data.variables, data.operation_name, data.extensions)

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """One operation. A hash that named no document is answered at once; a document
        sent with its hash is kept once it ran for a signed-in caller."""
        context: Context = kwargs["context"]
        data: GraphQLRequestData = kwargs["request_data"]
        if isinstance(data, Unanswerable):
            return ExecutionResult(data=None, errors=[data.error])
        result = await self._answered(*args, **kwargs)
        if (
            data.extensions
            and not isinstance(data, FoundByHash)  # kept already
            and context.signed_in is not None
            and not is_request_error(result.data, result.errors)
        ):
            await self.persisted.remember(data.query, data.extensions, self.partition_of(context))
        return result

    async def _answered(self, *args: Any, **kwargs: Any) -> Any:
        """An unexpected error is answered masked, whatever phase raised it (signing in
        for a cached map read, an extension, execution)."""
        context: Context = kwargs["context"]
        try:
            result = await self._execute_single(*args, **kwargs)
        except HTTPException:
            raise
        except Exception as error:
            return ExecutionResult(data=None, errors=[masked_exception(error, context.request_id)])
        finally:
            # The sign-in opened the request's read transaction before validation; an
            # operation refused before it executed must not keep its connection.
            await context.end_reads()
        if result.errors:
            result.errors = mask_escaped(result.errors, context.request_id)
        return result

    async def _execute_single(self, *args: Any, **kwargs: Any) -> Any:
        data: GraphQLRequestData = kwargs["request_data"]
        lookup = await self.map_reads.look_up(
            kwargs["context"], data.query, data.operation_name, data.variables
        )
        if lookup is None:
            return await self._written_or_executed(*args, **kwargs)
        body = lookup.body or await self.map_reads.from_read_in_flight(lookup)
        if body is not None:
            return ExecutionResult(data=orjson.Fragment(body), errors=None)  # type: ignore[arg-type]
        try:
            result = await self._execute(*args, **kwargs)
            if not result.errors and result.data is not None:
                body = dumps(result.data)
                return ExecutionResult(data=orjson.Fragment(body), errors=None)  # type: ignore[arg-type]
            return result
        finally:
            self.map_reads.store(lookup, body)

    async def _written_or_executed(self, *args: Any, **kwargs: Any) -> Any:
        """A query Postgres wrote whole before is answered by its statement directly
        (``graphql_schema.written_queries``); anything else is executed."""
        written = self.written_queries
        if written is None:
            return await self._execute(*args, **kwargs)
        data: GraphQLRequestData = kwargs["request_data"]
        context: Context = kwargs["context"]
        answer = await written.answer(context, data.query, data.operation_name, data.variables)
        if answer is not None:
            return ExecutionResult(data=answer, errors=None)
        result = await self._execute(*args, **kwargs)
        if context.written is not None and data.query is not None and not result.errors:
            written.remember(data.query, data.operation_name, Written(*context.written))
        return result

    async def _execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as error:
            # GraphQL-over-HTTP: a mutation over GET is 405 Method Not Allowed.
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise TransportError(
                    405, error.reason, "METHOD_NOT_ALLOWED", headers={"allow": "POST"}
                ) from error
            if isinstance(error.__cause__, CannotGetOperationTypeError):
                raise TransportError(400, error.reason, "OPERATION_RESOLUTION_FAILURE") from error
            raise

    async def get_context(  # type: ignore[override]
        self, request: Request | WebSocket, response: Response | None = None
    ) -> Context:
        return Context(
            request=request,
            response=response,
            db=self.database,
            settings=self.settings,
            oidc=self.oidc,
            live=self.live,
            request_id=request.scope.get("state", {}).get("request_id", "-"),
        )


@dataclass
class Unanswerable(GraphQLRequestData):
    """A request whose document could not be found or is not allowed: its error."""

    error: GraphQLError = field(kw_only=True)


@dataclass
class FoundByHash(GraphQLRequestData):
    """A request that named its document by hash alone, the document found."""


_REQUEST_FIELDS = {
    "query": str,
    "operationName": str,
    "variables": dict,
    "extensions": dict,
}


def _check_request_shape(item: object) -> None:
    if not isinstance(item, dict):
        raise HTTPException(400, "Each GraphQL request must be a JSON object.")
    for name, kind in _REQUEST_FIELDS.items():
        value = item.get(name)
        if value is not None and not isinstance(value, kind):
            raise HTTPException(400, f"`{name}` must be a {kind.__name__} or null.")


async def _unexpected_error(request: Request, _error: Exception) -> Response:
    """A crash in the outermost layers, which ``UnexpectedErrorMiddleware`` does not wrap."""
    request_id = request_id_of(request.scope)
    response = unexpected_error_response(request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    oidc: OidcClient | None = None,
) -> Starlette:
    """Build the app; a database passed in is borrowed (the caller disposes of it)."""
    settings = settings or get_settings()
    if settings.sso_allow_unverified_domains:
        logger.warning(
            "WAYPOST_SSO_ALLOW_UNVERIFIED_DOMAINS is on: SSO connections may admit email "
            "domains no organization has verified. Development only."
        )
    redact_access_log()
    owns_database = database is None
    db = database or database_from_settings(settings)
    oidc = oidc or OidcClient(settings)
    live = LiveEvents(settings.broker_url)  # announced by the relay, heard by subscriptions
    rate_limits = RateLimits(settings)
    graphql = GraphQLApp(settings, db, oidc, rate_limits, live)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # The relay (and, on the embedded broker, the workers and the schedule) live with
        # the API; on a real broker `waypost worker` runs the schedule (workers/schedule.py).
        background = Background(
            settings, db, run_workers=is_in_process(settings.broker_url), live=live
        )
        try:
            async with background:
                # What start-up built (schema, mappers, compiled statements) lives as
                # long as the process: moving it out of the collector's sight keeps a
                # full collection from scanning it, a pause of 130-270 ms otherwise.
                gc.freeze()
                yield {}
        finally:
            await rate_limits.aclose()
            await graphql.persisted.aclose()
            live.close()
            if owns_database:
                await db.dispose()

    cors = [Middleware(ListedOriginsCORS, origins=settings.cors_origins)]
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz_endpoint(db, settings.broker_url)),
            *auth_routes(settings, db, oidc),
            *ingestion_routes(db),
            *([graphiql.asset_route()] if graphql.graphql_ide else []),
        ],
        middleware=[
            # Outermost first: the client's real address, an id, hardened answers (429,
            # 413 and a crash's 500 included), the body's size, then what this client
            # may still ask.
            Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies)),
            Middleware(RequestIdMiddleware),
            # Pages on the listed origins get every answer below, refusals included.
            *(cors if settings.cors_origins else []),
            Middleware(SecurityHeadersMiddleware),
            Middleware(UnexpectedErrorMiddleware),  # a crash: masked 500, connection kept
            Middleware(BodyLimitMiddleware),  # before any route reads or parses a body
            Middleware(RateLimitMiddleware, limits=rate_limits),
        ],
        exception_handlers={Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.state.database = db
    app.state.settings = settings
    app.state.rate_limits = rate_limits
    app.state.live = live
    return app
