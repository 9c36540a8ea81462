"""Calling the ASGI app the way a server would, with a body that arrives in chunks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp

CHUNK = 64 * 1024


def chunks_of(total: int, chunk: int = CHUNK, fill: bytes = b" ") -> Iterator[bytes]:
    """``total`` bytes in ``chunk``-sized pieces, made only as they are pulled."""
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        sent += size
        yield fill * size


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int  # body bytes the app took from receive()
    messages: list[dict[str, Any]] = field(default_factory=list)


async def call(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    body: Iterable[bytes] = (),
    headers: list[tuple[bytes, bytes]] | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    query: bytes = b"",
) -> Answer:
    """One request straight into the app; counts every body byte the app pulls."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": client,
        "server": ("testserver", 80),
    }
    pieces = iter(body)
    pending = next(pieces, b"")  # an empty body is still one message
    done = False
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pending, done, pulled
        if done:  # the body is over: a server would now wait for the client to leave
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        piece, following = pending, next(pieces, None)
        done = following is None
        pending = following or b""
        pulled += len(piece)
        return {"type": "http.request", "body": piece, "more_body": not done}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=60)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(
        status=start["status"],
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]},
        body=content,
        pulled=pulled,
        messages=sent,
    )
