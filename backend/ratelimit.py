"""Rate limits on sign-in, ingestion and GraphQL: per client address and per credential.

Each request to a limited area counts against the rules of ``settings.rate_limits``:

- ``/auth/…``: its address (``auth_ip``) and, when it carries one, its credential
  (``auth_credential``: the invitation link's secret, the session or the sign-in attempt);
- ``/ingest/…``: its address (``ingest_ip``) and its ingestion token (``ingest_credential``);
- ``/graphql``: with a token or session cookie, that credential (``graphql_credential``) and
  its address (``graphql_ip``, so made-up tokens do not escape a count); without one,
  its address (``graphql_anonymous_ip``).

Counted before the endpoint runs, so a refused request costs no SQL. Counters are
shared through Redis when the broker is Redis, and kept in the process otherwise
(each process then counts on its own). A refusal is 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.auth.sessions import SESSION_COOKIE
from backend.auth.sso import ATTEMPT_COOKIE
from backend.settings import RATE_LIMIT_OFF, Settings

log = logging.getLogger("waypost.ratelimit")

Area = Literal["auth", "ingest", "graphql"]

KEY_PREFIX = "waypost-ratelimit"
INVITATION_PATH = "/auth/invitations/"
# Redis must answer quickly or not at all: a request never waits on a slow counter.
REDIS_TIMEOUT_SECONDS = 0.5
# After Redis fails, counting stays in the process for this long before trying again.
REDIS_RETRY_SECONDS = 10.0
# Anyone with IPv6 holds at least a /64: its addresses count as one client.
IPV6_CLIENT_PREFIX = 64


def area_of(path: str) -> Area | None:
    if path.startswith("/auth/"):
        return "auth"
    if path.startswith("/ingest/"):
        return "ingest"
    if path == "/graphql" or path.startswith("/graphql/"):
        return "graphql"
    return None


def client_address(scope: Scope) -> str:
    """The peer of the connection (a trusted proxy has already put its client there)."""
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def presented_credential(scope: Scope, area: Area) -> str | None:
    """What the request authenticates with, checked or not (checking costs SQL)."""
    if area == "auth" and scope["path"].startswith(INVITATION_PATH):
        secret: str = scope["path"].removeprefix(INVITATION_PATH)
        return secret or None
    authorization = _header(scope, b"authorization")
    if authorization:
        return authorization
    if area == "ingest":
        return None
    cookies = cookie_parser(_header(scope, b"cookie") or "")
    found = cookies.get(SESSION_COOKIE)
    if area == "auth":
        found = found or cookies.get(ATTEMPT_COOKIE)
    return found or None


@dataclass(frozen=True)
class Count:
    """One counter a request is counted against: a rule, and whose count it is."""

    rule: str
    key: str


class RateLimits:
    """The rules, and where their counters live."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.rules: dict[str, list[RateLimitItem]] = {
            name: parse_many(rate)
            for name, rate in settings.rate_limits.items()
            if rate.strip().lower() != RATE_LIMIT_OFF
        }
        # Credentials are counted under a keyed hash: Redis holds no token or session, nor
        # anything the database's token hashes match. (HKDF as backend/crypto/encryption.py.)
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"waypost:rate-limit-keys"
        ).derive(settings.secret_key.encode())
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._pool: ConnectionPool | None = None
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if settings.broker_url.startswith(("redis://", "rediss://")):
            self._pool = ConnectionPool.from_url(
                settings.broker_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            storage = RedisStorage(
                "async+" + settings.broker_url,
                implementation="redispy",
                key_prefix=KEY_PREFIX,
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        self._shared_down_until = 0.0

    def keyed(self, credential: str) -> str:
        """What a credential is counted (and its persisted queries kept) under: a keyed
        hash, so that neither Redis nor a log ever holds the secret."""
        return hmac.new(self._key, credential.encode(), hashlib.sha256).hexdigest()[:32]

    def counts(self, area: Area, scope: Scope, credential: str | None = None) -> list[Count]:
        address = client_address(scope)
        credential = credential or presented_credential(scope, area)
        if credential is None:
            rule = "graphql_anonymous_ip" if area == "graphql" else f"{area}_ip"
            return [Count(rule, address)]
        digest = self.keyed(credential)
        return [Count(f"{area}_credential", digest), Count(f"{area}_ip", address)]

    async def allows(self, rule: str, key: str) -> bool:
        """Count one more against ``rule`` for ``key`` (a ``keyed`` credential); False
        once over it."""
        if not self.enabled:
            return True
        for item in self.rules.get(rule, ()):
            if await self._hit(item, Count(rule, key)) is not None:
                return False
        return True

    async def wait_for(self, area: Area, scope: Scope, credential: str | None = None) -> int | None:
        """Count the request; None if it may go on, else the seconds to wait first.

        ``credential``: what an operation on a socket presents in its connectionParams
        (the handshake's headers carry none then); each operation counts as a request."""
        for count in self.counts(area, scope, credential):
            for item in self.rules.get(count.rule, ()):
                wait = await self._hit(item, count)
                if wait is not None:
                    return wait
        return None

    async def _hit(self, item: RateLimitItem, count: Count) -> int | None:
        limiter = self._memory
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            limiter = self._shared
        try:
            if await limiter.hit(item, count.rule, count.key):
                return None
            stats = await limiter.get_window_stats(item, count.rule, count.key)
        except StorageError as error:
            # Redis is down: count in this process meanwhile, rather than refuse
            # everyone or no one.
            log.warning(
                "rate limit counters unreachable (%s); counting in-process for %.0f s",
                error.storage_error,
                REDIS_RETRY_SECONDS,
            )
            self._shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return await self._hit(item, count)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()


def _refusal_body(area: Area, wait: int) -> bytes:
    message = f"Too many requests: try again in {wait} seconds."
    if area == "graphql":
        error: dict[str, object] = {
            "message": message,
            "extensions": {"code": "RATE_LIMITED", "retryAfter": wait},
        }
    else:  # the shape of ingestion's errors
        error = {"code": "RATE_LIMITED", "field": None, "message": message, "retryAfter": wait}
    return json.dumps({"errors": [error]}).encode()


class RateLimitMiddleware:
    """Answer 429 before the endpoint runs when a request is over one of its limits."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        area = area_of(scope["path"]) if scope["type"] in ("http", "websocket") else None
        if area is None or not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        wait = await self.limits.wait_for(area, scope)
        if wait is None:
            await self.app(scope, receive, send)
            return
        body = _refusal_body(area, wait)
        start = {
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(wait).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
        if scope["type"] == "http":
            await send({"type": "http.response.start", **start})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in (scope.get("extensions") or {}):
            await send({"type": "websocket.http.response.start", **start})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1013})  # try again later
