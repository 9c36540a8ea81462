"""The ASGI application: composes settings, database, GraphQL and HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import InvalidOperationTypeError

from backend.db.engine import Database, database_from_settings
from backend.http import RequestIdMiddleware, healthz, readyz_endpoint
from backend.settings import Settings, get_settings
from graphql_schema.context import Context
from graphql_schema.schema import build_schema


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, settings: Settings, database: Database) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.introspection_enabled else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.database = database

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
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
            request_id=request.scope.get("state", {}).get("request_id", "-"),
        )


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Starlette:
    """Build the app; a database passed in is borrowed (the caller disposes of it)."""
    settings = settings or get_settings()
    owns_database = database is None
    db = database or database_from_settings(settings)
    graphql = GraphQLApp(settings, db)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            if owns_database:
                await db.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz_endpoint(db)),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
    app.state.database = db
    app.state.settings = settings
    return app
