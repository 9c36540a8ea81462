"""Plain HTTP pieces: request ids, masked unexpected errors and the health endpoints."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.db.engine import Database
from backend.db.outage import report_if_unreachable
from backend.entrypoints.readiness import ReadinessProbe

log = logging.getLogger("waypost.http")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id of our own, echoed in the response.

    The audit trail and the error log name requests by this id, so a caller must not
    choose it (one could make its changes look like another request's). A caller's
    own id, if sane, is kept beside it as ``client_request_id``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = incoming if _SAFE_REQUEST_ID.match(incoming) else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id_of(scope: Scope) -> str:
    request_id: str = scope.get("state", {}).get("request_id", "-")
    return request_id


def unexpected_error_response(request_id: str) -> JSONResponse:
    """What a client sees of any crash: GraphQL's masked shape, with the id to quote."""
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "Unexpected error.",
                    "extensions": {"code": "INTERNAL", "requestId": request_id},
                }
            ]
        },
        status_code=500,
    )


class UnexpectedErrorMiddleware:
    """Answer a crash with a masked 500, log it once, and keep the connection open.

    Starlette's own last-resort handler answers and then re-raises, for the server
    to log; uvicorn then logs the traceback a second time and closes the keep-alive
    connection, so the client's next request on it fails. Here the crash is
    answered and logged, and goes no further. A crash after the answer started can
    only be told by closing the connection: that one is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise
            request_id = request_id_of(scope)
            if not report_if_unreachable(error):  # an outage is one line, not one per request
                log.exception("unexpected error (request %s)", request_id)
            await unexpected_error_response(request_id)(scope, receive, send)


async def healthz(_request: Request) -> JSONResponse:
    """The process is alive; says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


def readyz_endpoint(database: Database, broker_url: str):  # type: ignore[no-untyped-def]
    probe = ReadinessProbe(database, broker_url)

    async def readyz(_request: Request) -> JSONResponse:
        """Ready to serve: a read as requests make it works, and the broker answers."""
        readiness = await probe.check()
        body = {
            "status": "ok" if readiness.ready else "unavailable",
            "database": readiness.database,
            "broker": readiness.broker,
        }
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    return readyz
