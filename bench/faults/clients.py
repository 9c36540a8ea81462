"""The suite's clients: GraphQL and ingestion over HTTP, each answer sorted by kind.

A kind is what a client can tell apart: ``ok``, a user error code (``CONFLICT``), a
top-level GraphQL code (``INTERNAL``), an HTTP status, or a transport failure
(``connect refused``, ``read error``). Raw database messages in an answer are a
finding of their own (``unmasked``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from graphql_schema.relay import decode_global_id

INGEST_PATH = "/ingest/v1/feedback"
TIMEOUT = httpx.Timeout(20.0)
# Text of a database driver's message: never meant for a client.
_LEAKS = ("sqlalchemy", "asyncpg", "SELECT ", "INSERT ", "UPDATE ")


def transport_kind(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connect refused"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.RemoteProtocolError):
        return "connection closed"
    return "read error"


@dataclass
class Answer:
    kind: str
    data: dict[str, Any]


class Tally:
    """Answers by kind, and when each kind was last seen (monotonic seconds)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.last_failure = 0.0

    def add(self, kind: str) -> None:
        self.kinds[kind] += 1
        if kind not in ("ok", "CONFLICT"):
            self.last_failure = time.monotonic()

    def errors(self) -> dict[str, int]:
        return {k: n for k, n in sorted(self.kinds.items()) if k not in ("ok",)}


class GraphQL:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"authorization": f"Bearer {token}"}

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> Answer:
        try:
            response = await self.client.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers=self.headers,
                timeout=TIMEOUT,
            )
        except httpx.TransportError as error:
            return Answer(transport_kind(error), {})
        if any(leak in response.text for leak in _LEAKS):
            return Answer("unmasked", {})
        try:
            body = response.json()
        except ValueError:
            return Answer(f"http {response.status_code}", {})
        if body.get("errors"):
            code = body["errors"][0].get("extensions", {}).get("code", "error")
            return Answer(str(code), body)
        if response.status_code != 200:
            return Answer(f"http {response.status_code}", body)
        # The first (only) root field's value: a mutation's payload or a query's object.
        payload = next(iter(body["data"].values()))
        if isinstance(payload, dict) and payload.get("errors"):
            return Answer(str(payload["errors"][0]["code"]), payload)
        return Answer("ok", payload if isinstance(payload, dict) else body["data"])

    async def must(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.call(query, variables)
        if answer.kind != "ok":
            raise RuntimeError(f"{query.split('(')[0].strip()}: {answer.kind} {answer.data}")
        return answer.data


def feedback_items(prefix: str, count: int, event_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """``count`` items with external ids ``{prefix}-{n}``, each matched to a touchpoint."""
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    return [
        {
            "source": "SURVEY",
            "externalId": f"{prefix}-{n}",
            "occurredAt": at,
            "measure": "CSAT",
            "measureValue": 1 + n % 5,
            "text": ("Quick and lovely" if n % 2 else "Slow and painful") + f" #{n}",
            "eventName": event_names[n % len(event_names)],
        }
        for n in range(count)
    ]


async def ingest(client: httpx.AsyncClient, token: str, items: list[dict[str, Any]]) -> Answer:
    try:
        response = await client.post(
            INGEST_PATH,
            json=items,
            headers={"authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
    except httpx.TransportError as error:
        return Answer(transport_kind(error), {})
    if any(leak in response.text for leak in _LEAKS):
        return Answer("unmasked", {})
    if response.status_code != 200:
        return Answer(f"http {response.status_code}", {})
    return Answer("ok", response.json())


class Ingestor:
    """Posts batches of new feedback; a batch whose answer was lost is sent again as is
    (the same external ids: ingestion takes a repeat as a duplicate)."""

    def __init__(self, client: httpx.AsyncClient, token: str, event_names: tuple[str, ...]):
        self.client = client
        self.token = token
        self.event_names = event_names
        self.tally = Tally()
        self.accepted = 0
        self.duplicates = 0
        self.batches = 0

    async def send(self, prefix: str, size: int, *, give_up_after: float = 120.0) -> None:
        items = feedback_items(prefix, size, self.event_names)
        self.batches += 1
        deadline = time.monotonic() + give_up_after
        while True:
            answer = await ingest(self.client, self.token, items)
            self.tally.add(answer.kind)
            if answer.kind == "ok":
                self.accepted += int(answer.data["accepted"])
                self.duplicates += int(answer.data["duplicates"])
                return
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)

    async def run(self, prefix: str, *, seconds: float, size: int, every: float) -> None:
        """A batch every ``every`` seconds for ``seconds``."""
        n = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            await self.send(f"{prefix}-{n}", size)
            n += 1
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


def gid_uuid(gid: str) -> UUID:
    """The uuid inside a global id."""
    decoded = decode_global_id(gid)
    if decoded is None:
        raise ValueError(f"not a global id: {gid!r}")
    return decoded[1]
