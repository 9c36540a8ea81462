"""Documents sent by their hash: Apollo's automatic persisted queries, and trusted documents.

Automatic persisted queries (APQ, Apollo's ``persistedQuery`` extension, version 1):
- a request with only ``extensions.persistedQuery.sha256Hash`` runs the document kept
  under that hash, or is answered ``PersistedQueryNotFound`` (code
  ``PERSISTED_QUERY_NOT_FOUND``), upon which the client sends the hash and the document;
- a request with both runs the document and, once it ran for a signed-in caller without
  a request error, keeps it, its SHA-256 checked to be the hash (a document is never
  kept under another's hash, and what does not parse or validate takes no room).

Documents are kept **per credential** (under a keyed hash of the token or session the
request presents): whether a document was ever run tells one caller nothing about
another's, in this tenant or any other, and a request without a credential finds
nothing. They are kept in the process (least recently used out, bounded by their total
size) and, when the broker is Redis, in Redis for every API process, for a day. Each
credential keeps at most ``persisted_query_credential`` new documents an hour (a rate
limit rule) of at most 16 KiB: the shared Redis grows with what the app's clients send,
never with what one of them makes up.

Trusted documents (``WAYPOST_TRUSTED_DOCUMENTS``, a manifest built with the app): only
the documents listed are answered, sent by hash or in full; anything else is refused
with ``PERSISTED_QUERY_NOT_IN_LIST`` and nothing is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from graphql import GraphQLError
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

log = logging.getLogger("waypost.graphql")

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
BAD_REQUEST = "BAD_REQUEST"

KEY_PREFIX = "waypost:apq:"
SHARED_FOR_SECONDS = 24 * 3600
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 30.0
MAX_DOCUMENT_CHARS = 16 * 1024  # a larger document is run, not kept
MAX_TOTAL_CHARS = 4 * 1024 * 1024


class PersistedQueryError(Exception):
    """The request's document cannot be found or is not allowed: answered, not run."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = GraphQLError(message, extensions={"code": code})


_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# Whose documents a request may find: a keyed hash of its credential; None for none.
Partition = str | None
# Whether a credential (its partition) may keep one more document now.
Allowance = Callable[[str], Awaitable[bool]]


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class Sent:
    """What a request says of its document: the text and the hash, either or both."""

    query: str | None
    sha256: str | None

    @classmethod
    def of(cls, query: str | None, extensions: dict[str, Any] | None) -> Sent:
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return cls(query, None)
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError(
                "Unsupported persisted query: send extensions.persistedQuery as "
                '{"version": 1, "sha256Hash": "<hex>"}.',
                BAD_REQUEST,
            )
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or not _HEX_SHA256.fullmatch(sha):
            raise PersistedQueryError(
                "persistedQuery.sha256Hash must be 64 hexadecimal digits.", BAD_REQUEST
            )
        return cls(query, sha.lower())


class _Recent:
    """Documents by (partition, hash), least recently used out, bounded by their total
    length."""

    def __init__(self, max_total_chars: int = MAX_TOTAL_CHARS) -> None:
        self.max_total_chars = max_total_chars
        self._documents: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._chars = 0

    def get(self, key: tuple[str, str]) -> str | None:
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
        return document

    def put(self, key: tuple[str, str], document: str) -> None:
        if key in self._documents:
            self._documents.move_to_end(key)
            return
        self._documents[key] = document
        self._chars += len(document)
        while self._chars > self.max_total_chars:
            _, evicted = self._documents.popitem(last=False)
            self._chars -= len(evicted)


@runtime_checkable
class PersistedDocuments(Protocol):
    """What a GraphQL view offers its socket: the store, whose documents a request may
    find, and the rate limits."""

    persisted: PersistedQueries
    rate_limits: Any  # backend.ratelimit.RateLimits: each socket operation is counted

    def partition_of(self, context: Any) -> Partition: ...


class PersistedQueries:
    """Finds the document a request runs, and keeps those sent with their hash (see the
    module's rules)."""

    def __init__(
        self,
        *,
        broker_url: str,
        trusted: dict[str, str] | None = None,
        allowance: Allowance | None = None,
    ) -> None:
        self.trusted = trusted
        self.allowance = allowance
        self._recent = _Recent()
        self._redis: Redis | None = None
        self._redis_down_until = 0.0
        if trusted is None and broker_url.startswith(("redis://", "rediss://")):
            pool = ConnectionPool.from_url(
                broker_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._redis = Redis(connection_pool=pool)

    async def document(
        self, query: str | None, extensions: dict[str, Any] | None, partition: Partition
    ) -> str | None:
        """The document to run; None when the request sends neither text nor hash."""
        sent = Sent.of(query, extensions)
        if self.trusted is not None:
            return self._trusted(sent)
        if sent.sha256 is None:
            return sent.query
        if sent.query is None:
            found = await self._find(partition, sent.sha256) if partition else None
            if found is None:
                raise PersistedQueryError("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            return found
        if sha256_of(sent.query) != sent.sha256:
            raise PersistedQueryError("provided sha does not match query", BAD_REQUEST)
        return sent.query

    async def remember(
        self, query: str | None, extensions: dict[str, Any] | None, partition: Partition
    ) -> None:
        """Keep a document its client sent with its hash, once it ran for a signed-in
        caller; call it only when the client sent the text itself."""
        try:
            sent = Sent.of(query, extensions)
        except PersistedQueryError:
            return
        if (
            self.trusted is not None
            or partition is None
            or sent.sha256 is None
            or sent.query is None
            or len(sent.query) > MAX_DOCUMENT_CHARS
            or sha256_of(sent.query) != sent.sha256
            or self._recent.get((partition, sent.sha256)) is not None
        ):
            return
        if self.allowance is not None and not await self.allowance(partition):
            return  # over its allowance: the document runs, but is sent in full next time
        await self._store(partition, sent.sha256, sent.query)

    def _trusted(self, sent: Sent) -> str:
        assert self.trusted is not None
        sha = sent.sha256 or (sha256_of(sent.query) if sent.query is not None else None)
        listed = self.trusted.get(sha) if sha is not None else None
        if listed is None or (sent.query is not None and sent.query != listed):
            raise PersistedQueryError(
                "Only the application's own documents are answered here: this one is not "
                "in the list of trusted documents.",
                PERSISTED_QUERY_NOT_IN_LIST,
            )
        return listed

    async def _find(self, partition: str, sha: str) -> str | None:
        found = self._recent.get((partition, sha))
        if found is None and self._shared_up():
            assert self._redis is not None
            try:
                raw = await self._redis.get(f"{KEY_PREFIX}{partition}:{sha}")
            except RedisError as error:
                self._shared_failed(error)
                return None
            # Checked again: whoever wrote Redis, a hash only ever names its document.
            text = raw.decode() if isinstance(raw, bytes) else raw
            if text is not None and sha256_of(text) == sha:
                self._recent.put((partition, sha), text)
                found = text
        return found

    async def _store(self, partition: str, sha: str, document: str) -> None:
        self._recent.put((partition, sha), document)
        if self._shared_up():
            assert self._redis is not None
            try:
                await self._redis.set(
                    f"{KEY_PREFIX}{partition}:{sha}", document, ex=SHARED_FOR_SECONDS, nx=True
                )
            except RedisError as error:
                self._shared_failed(error)

    def _shared_up(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._redis_down_until

    def _shared_failed(self, error: RedisError) -> None:
        # Redis is down: each process keeps its own documents meanwhile; a client whose
        # hash is not found here sends the document again, as the protocol expects.
        log.warning(
            "persisted queries unreachable in Redis (%s); kept in-process for %.0f s",
            error,
            REDIS_RETRY_SECONDS,
        )
        self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def load_trusted_documents(path: Path) -> dict[str, str]:
    """The documents of a manifest, by SHA-256: graphql-codegen's persisted documents
    (``{"<sha256>": "<document>"}``) or Apollo's persisted query manifest
    (``{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}``).
    ValueError naming the file and what is wrong with it."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"WAYPOST_TRUSTED_DOCUMENTS: cannot read {path}: {error}") from None
    if isinstance(manifest, dict) and manifest.get("format") == "apollo-persisted-query-manifest":
        operations = manifest.get("operations")
        if not isinstance(operations, list):
            raise ValueError(f"WAYPOST_TRUSTED_DOCUMENTS: {path}: no list of operations")
        entries = [(o.get("id"), o.get("body")) for o in operations if isinstance(o, dict)]
    elif isinstance(manifest, dict):
        entries = list(manifest.items())
    else:
        raise ValueError(f"WAYPOST_TRUSTED_DOCUMENTS: {path}: not a manifest of documents")
    documents: dict[str, str] = {}
    for sha, body in entries:
        if not isinstance(sha, str) or not isinstance(body, str):
            raise ValueError(f"WAYPOST_TRUSTED_DOCUMENTS: {path}: an entry is not hash: text")
        if sha256_of(body) != sha.lower():
            raise ValueError(
                f"WAYPOST_TRUSTED_DOCUMENTS: {path}: {sha} is not the SHA-256 of its document"
            )
        documents[sha.lower()] = body
    if not documents:
        raise ValueError(f"WAYPOST_TRUSTED_DOCUMENTS: {path}: lists no document")
    return documents
