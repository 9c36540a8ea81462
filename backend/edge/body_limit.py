"""Request body caps, enforced while the body streams in and before anything parses it.

A body announced as too large is refused on its Content-Length alone; a body without
one (chunked) or with a false one is counted as it arrives and refused the moment it
passes the cap, so no route ever holds more than its cap and one chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KiB = 1024
MiB = 1024 * KiB
# A GraphQL request: a document (token-capped far below this) and its variables. A
# batch of feedback bigger than this goes to the ingestion endpoint or the importer.
GRAPHQL_MAX_BYTES = 1 * MiB
INGEST_MAX_BYTES = 5 * MiB
# Sign-in forms and everything else: no route there reads more than a form field.
SMALL_MAX_BYTES = 16 * KiB
# First match wins; the path as the router sees it.
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    ("/graphql", GRAPHQL_MAX_BYTES),
    ("/ingest/", INGEST_MAX_BYTES),
)


def limit_for(path: str) -> int:
    for prefix, limit in ROUTE_LIMITS:
        if path.startswith(prefix):
            return limit
    return SMALL_MAX_BYTES


class BodyTooLarge(Exception):
    """The body went past its cap; answered with 413 by ``BodyLimitMiddleware``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> JSONResponse:
    size = f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit // KiB} KiB"
    code = "REQUEST_TOO_LARGE"
    return JSONResponse(
        # Readable by GraphQL clients (extensions.code) and ingestion clients (code).
        {
            "errors": [
                {
                    "code": code,
                    "message": f"The request body is larger than {size}.",
                    "extensions": {"code": code, "maxBytes": limit},
                }
            ]
        },
        status_code=413,
        headers={"connection": "close"},  # the rest of the body is not worth reading
    )


def _bad_length() -> JSONResponse:
    code = "BAD_REQUEST"
    message = "Content-Length must be a whole number of bytes."
    return JSONResponse(
        {"errors": [{"code": code, "message": message, "extensions": {"code": code}}]},
        status_code=400,
        headers={"connection": "close"},
    )


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number; -1 if it is not one."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1")
            if not (text.isascii() and text.isdigit()):
                return -1
            return int(text) if len(text) <= 18 else 10**18  # no 5,000-digit parsing
    return None


class BodyLimitMiddleware:
    """Refuse (413, JSON) a body over its route's cap, counting bytes as they come."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared < 0:
            await _bad_length()(scope, receive, send)
            return
        if declared is not None and declared > limit:
            await too_large(limit)(scope, receive, send)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as refused:
            if started:  # a route that answers before reading: nothing left to say
                raise
            await too_large(refused.limit)(scope, receive, send)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, read chunk by chunk and given up on as soon as it passes ``limit``."""
    return b"".join([chunk async for chunk in _capped(request.stream(), limit)])


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        yield chunk
