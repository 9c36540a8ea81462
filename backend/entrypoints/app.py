"""The ASGI application: composes settings, database, GraphQL and HTTP routes."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

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
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from backend.auth.oidc import OidcClient
from backend.db.engine import Database, database_from_settings
from backend.edge.access_log import redact_access_log
from backend.edge.body_limit import BodyLimitMiddleware
from backend.edge.headers import CSP, SecurityHeadersMiddleware, page_policy
from backend.entrypoints import graphiql
from backend.entrypoints.graphql_socket import PROTOCOLS, ContextPerOperation, TextFrames
from backend.entrypoints.http.ingestion import ingestion_routes
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
from backend.ratelimit import RateLimitMiddleware, RateLimits
from backend.settings import Settings, get_settings
from graphql_schema.authentication import KnownTokens
from graphql_schema.batches import BatchItem, check_batch
from graphql_schema.context import Context
from graphql_schema.credentials import own_origin
from graphql_schema.errors import Unauthenticated, mask_escaped, masked_exception
from graphql_schema.map_read_cache import MapReadCache
from graphql_schema.private_schema import hidden_from, schema_is_private
from graphql_schema.schema import API_LIMITS, build_schema
from graphql_schema.written_queries import Written, WrittenQueries
from workers.background import Background
from workers.broker import is_in_process

logger = logging.getLogger("waypost")


class GraphQLApp(GraphQL[Context, None]):
    websocket_adapter_class = TextFrames
    graphql_transport_ws_handler_class = ContextPerOperation

    def __init__(self, settings: Settings, database: Database, oidc: OidcClient) -> None:
        origin = own_origin(settings.base_url)
        # Bearer tokens' owners, shared by the operations, a batch refused before they
        # run and the queries answered directly.
        self.known_tokens = KnownTokens()
        schema = build_schema(settings, known=self.known_tokens)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.introspection_enabled else None,
            allow_queries_via_get=True,
            subscription_protocols=PROTOCOLS,
            # A socket's handshake is refused from a page on any other site (strawberry
            # also lets through an Origin naming the Host it reached, and clients that
            # send no Origin); the cookie counts only from this one (credentials.py).
            allowed_origins=(origin,) if origin else (),
        )
        self.settings = settings
        self.graphql_schema = schema._schema  # what the batch's limits are measured on
        self.written_queries = (
            WrittenQueries(self.graphql_schema, API_LIMITS, self.known_tokens)
            if settings.planned_reads
            else None
        )
        self.database = database
        self.oidc = oidc
        self.map_reads = MapReadCache(settings.map_read_cache_mb * 1024 * 1024)
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
        async with self._in_flight:
            await super().__call__(scope, receive, send)

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
        """A batch is first measured as a whole (``graphql_schema.batches``)."""
        batch = kwargs["request_data"]
        if isinstance(batch, list):
            context: Context = kwargs["context"]
            try:
                refused = await self._refused_batch(batch, context)
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
            return [Unauthenticated()]
        return errors

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """One operation; an unexpected error is answered masked, whatever phase raised it
        (signing in for a cached map read, an extension, execution)."""
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
                raise HTTPException(405, error.reason) from error
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
            request_id=request.scope.get("state", {}).get("request_id", "-"),
        )


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
    graphql = GraphQLApp(settings, db, oidc)
    rate_limits = RateLimits(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # The relay (and, on the embedded broker, the workers and the schedule) live with
        # the API; on a real broker `waypost worker` runs the schedule (workers/schedule.py).
        background = Background(settings, db, run_workers=is_in_process(settings.broker_url))
        try:
            async with background:
                # What start-up built (schema, mappers, compiled statements) lives as
                # long as the process: moving it out of the collector's sight keeps a
                # full collection from scanning it, a pause of 130-270 ms otherwise.
                gc.freeze()
                yield {}
        finally:
            await rate_limits.aclose()
            if owns_database:
                await db.dispose()

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
    return app
