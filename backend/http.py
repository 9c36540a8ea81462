"""Plain HTTP pieces: request ids and the health endpoints."""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.db.engine import Database

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


async def healthz(_request: Request) -> JSONResponse:
    """The process is alive; says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


def readyz_endpoint(database: Database):  # type: ignore[no-untyped-def]
    async def readyz(_request: Request) -> JSONResponse:
        """Ready to serve: the database answers."""
        try:
            await database.ping()
        except Exception as error:
            return JSONResponse(
                {"status": "unavailable", "database": type(error).__name__}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    return readyz
