"""Rate limits, exercised the way a flood arrives: many requests over HTTP from one
address, or with one credential from many, against the sign-in pages, ingestion and
GraphQL. Counters live in Redis when the run's broker is Redis, in memory otherwise."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
import pytest_asyncio
import redis.asyncio
import uvicorn
import websockets
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from websockets.typing import Subprotocol

from backend.auth.tokens import hash_secret
from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.models import SsoLoginAttempt
from backend.ratelimit import KEY_PREFIX
from backend.settings import DEFAULT_RATE_LIMITS, Settings
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.rogue_idp import CLIENT_ID, CLIENT_SECRET, RogueIdP
from tests.fixtures.sockets import graphql_socket, serve
from tests.fixtures.sso import APP_ORIGIN, create_connection
from tests.fixtures.tenants import Tenant

# An anonymous or made-up credential that got past the limits reaches GraphQL, which
# refuses it as unauthenticated (401); a request over the limit never gets there (429).
REFUSED_BY_GRAPHQL = 401
VIEWER = "{ viewer { user { email } } }"
CREATE_INGESTION_TOKEN = """mutation($ws: ID!) {
  createIngestionToken(input: {workspaceId: $ws, name: "Survey tool"}) {
    token errors { code } } }"""
INGEST = "/ingest/v1/feedback"
ITEM = {"source": "SURVEY", "externalId": "r1", "measure": "NPS", "measureValue": 9}

Connect = Callable[[str], httpx.AsyncClient]


def _uses_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


async def _counter_keys(*, delete: bool = False) -> list[str]:
    """The rate-limit keys in the run's Redis (none without Redis)."""
    url = configured_broker_url()
    if not _uses_redis(url):
        return []
    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{KEY_PREFIX}*")]
        if delete and keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
    return [key.decode() for key in keys]


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_counters() -> AsyncIterator[None]:
    """No counter left over from another test (or run) in the run's Redis."""
    await _counter_keys(delete=True)
    yield
    await _counter_keys(delete=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def limited(settings: Settings, broker_url: str | None = None, **rules: str) -> Settings:
    """The test's settings with these rules (the rest at their defaults), on the run's broker."""
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "base_url": APP_ORIGIN,
            "broker_url": broker_url or configured_broker_url(),
            "rate_limits": rules,
        }
    )


@asynccontextmanager
async def serving(settings: Settings, database: Database) -> AsyncIterator[Connect]:
    """One app; ``connect(ip)`` gives a client whose requests come from that address."""
    app: Starlette = create_app(settings, database=database)
    opened: list[httpx.AsyncClient] = []

    def connect(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        client = httpx.AsyncClient(transport=transport, base_url=APP_ORIGIN)
        opened.append(client)
        return client

    try:
        yield connect
    finally:
        for client in opened:
            await client.aclose()
        await app.state.rate_limits.aclose()


def assert_rate_limited(response: httpx.Response) -> int:
    """A 429 with Retry-After in whole seconds and a JSON error naming RATE_LIMITED."""
    assert response.status_code == 429, (response.status_code, response.text[:300])
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    error = response.json()["errors"][0]
    assert error["code"] == "RATE_LIMITED"
    assert error["retryAfter"] == wait
    return wait


def assert_graphql_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, (response.status_code, response.text[:300])
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    assert response.json() == {
        "errors": [
            {
                "message": f"Too many requests: try again in {wait} seconds.",
                "extensions": {"code": "RATE_LIMITED", "retryAfter": wait},
            }
        ]
    }


async def _attempts(owner: AsyncEngine) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(SsoLoginAttempt)) or 0)


# -- sign-in ----------------------------------------------------------------------------------


async def test_a_flood_of_anonymous_logins_is_refused_before_it_writes_rows(
    settings: Settings,
    database: Database,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    rogue_idp: RogueIdP,
    inspector_engine: AsyncEngine,
    fresh_counters: None,
) -> None:
    made = await create_connection(
        client,
        tenant_a,
        issuer=rogue_idp.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_domains=["acme.example"],
    )
    assert made["errors"] == [], made
    async with serving(limited(settings, auth_ip="5/minute"), database) as connect:
        attacker = connect("203.0.113.7")
        answers = [await attacker.get(f"/auth/sso/{tenant_a.slug}/login") for _ in range(12)]
        assert [a.status_code for a in answers[:5]] == [302] * 5
        for refused in answers[5:]:
            assert_rate_limited(refused)
        assert await _attempts(inspector_engine) == 5
        # Someone else, elsewhere, still signs in.
        assert (await connect("198.51.100.20").get(f"/auth/sso/{tenant_a.slug}/login")).is_redirect
    assert await _attempts(inspector_engine) == 6


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/sso/nobody/login"),
        ("GET", "/auth/sso/callback?state=guess&code=guess"),
        ("GET", "/auth/invitations/wpi_guess"),
        ("POST", "/auth/invitations/wpi_guess"),
        ("POST", "/auth/logout"),
    ],
)
async def test_every_sign_in_endpoint_is_limited_per_address(
    settings: Settings, database: Database, fresh_counters: None, method: str, path: str
) -> None:
    async with serving(limited(settings, auth_ip="3/minute"), database) as connect:
        attacker = connect("203.0.113.7")
        for _ in range(3):
            answer = await attacker.request(method, path)
            assert answer.status_code != 429, answer.text
        assert_rate_limited(await attacker.request(method, path))
        assert (await connect("198.51.100.20").request(method, path)).status_code != 429


async def test_guessing_invitation_links_from_one_address_is_stopped(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    """A new secret each time escapes the per-link counter, not the per-address one."""
    async with serving(limited(settings, auth_ip="4/minute"), database) as connect:
        guesser = connect("203.0.113.7")
        answers = [
            await guesser.get(f"/auth/invitations/wpi_{secrets.token_urlsafe(16)}")
            for _ in range(6)
        ]
        assert [a.status_code for a in answers[:4]] == [410] * 4
        for refused in answers[4:]:
            assert_rate_limited(refused)


async def test_one_invitation_link_is_limited_across_addresses(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    async with serving(limited(settings, auth_credential="3/minute"), database) as connect:
        link = "/auth/invitations/wpi_" + secrets.token_urlsafe(16)
        for n in range(3):
            assert (await connect(f"203.0.113.{n + 1}").get(link)).status_code == 410
        assert_rate_limited(await connect("203.0.113.99").get(link))
        other = "/auth/invitations/wpi_" + secrets.token_urlsafe(16)
        assert (await connect("203.0.113.99").get(other)).status_code == 410


# -- ingestion --------------------------------------------------------------------------------


async def _ingestion_token(client: httpx.AsyncClient, tenant: Tenant, index: int = 0) -> str:
    response = await client.post(
        "/graphql",
        json={"query": CREATE_INGESTION_TOKEN, "variables": {"ws": tenant.ws_gid(index)}},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    payload = response.json()["data"]["createIngestionToken"]
    assert payload["errors"] == []
    return str(payload["token"])


async def test_ingestion_is_limited_per_token(
    settings: Settings,
    database: Database,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    fresh_counters: None,
) -> None:
    first, second = [await _ingestion_token(client, tenant_a, i) for i in (0, 1)]
    async with serving(limited(settings, ingest_credential="3/minute"), database) as connect:
        for n in range(3):  # the token's counter, whatever address it comes from
            sender = connect(f"203.0.113.{n + 1}")
            sent = await sender.post(INGEST, json=[ITEM], headers=bearer(first))
            assert sent.status_code == 200, sent.text
        refused = await connect("203.0.113.9").post(INGEST, json=[ITEM], headers=bearer(first))
        assert_rate_limited(refused)
        other = await connect("203.0.113.9").post(INGEST, json=[ITEM], headers=bearer(second))
        assert other.status_code == 200, other.text


async def test_ingestion_with_made_up_tokens_is_limited_per_address(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    async with serving(limited(settings, ingest_ip="4/minute"), database) as connect:
        sender = connect("203.0.113.7")

        async def post() -> httpx.Response:
            token = "wpin_" + secrets.token_urlsafe(24)
            return await sender.post(INGEST, json=[ITEM], headers=bearer(token))

        assert [(await post()).status_code for _ in range(4)] == [401] * 4
        assert_rate_limited(await post())


# -- GraphQL ----------------------------------------------------------------------------------


async def test_graphql_is_limited_per_token_with_a_graphql_error(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant, fresh_counters: None
) -> None:
    async with serving(limited(settings, graphql_credential="3/minute"), database) as connect:
        office = connect("203.0.113.7")

        async def ask(token: str) -> httpx.Response:
            return await office.post("/graphql", json={"query": VIEWER}, headers=bearer(token))

        for _ in range(3):
            assert (await ask(tenant_a.token)).status_code == 200
        refused = await ask(tenant_a.token)
        assert_graphql_rate_limited(refused)
        assert refused.headers["cache-control"] == "no-store"
        # A colleague behind the same address has a counter of their own.
        answer = await ask(tenant_b.token)
        assert answer.status_code == 200
        assert answer.json()["data"]["viewer"]["user"]["email"] == tenant_b.owner_email
    # What the counters are kept under names no token, nor the database's hash of one.
    stored_keys = await _counter_keys()
    assert bool(stored_keys) == _uses_redis(configured_broker_url())
    for stored in stored_keys:
        for token in (tenant_a.token, tenant_b.token):
            assert token not in stored
            assert hash_secret(token)[:16] not in stored


async def test_anonymous_graphql_is_limited_per_address(
    settings: Settings, database: Database, tenant_a: Tenant, fresh_counters: None
) -> None:
    async with serving(limited(settings, graphql_anonymous_ip="2/minute"), database) as connect:
        stranger = connect("203.0.113.7")
        for _ in range(2):
            assert (
                await stranger.post("/graphql", json={"query": VIEWER})
            ).status_code == REFUSED_BY_GRAPHQL
        assert_graphql_rate_limited(await stranger.post("/graphql", json={"query": VIEWER}))
        assert_graphql_rate_limited(await stranger.get("/graphql", params={"query": VIEWER}))
        # Signed-in callers from that address are counted by their credential.
        signed_in = await stranger.post(
            "/graphql", json={"query": VIEWER}, headers=bearer(tenant_a.token)
        )
        assert signed_in.status_code == 200
        cookie = await stranger.post(
            "/graphql", json={"query": VIEWER}, headers={"Cookie": "waypost_session=not-a-session"}
        )
        assert cookie.status_code == REFUSED_BY_GRAPHQL


async def test_made_up_tokens_do_not_escape_the_per_address_limit(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    async with serving(limited(settings, graphql_ip="5/minute"), database) as connect:
        attacker = connect("203.0.113.7")

        async def ask() -> httpx.Response:
            token = "wpt_" + secrets.token_urlsafe(24)
            return await attacker.post("/graphql", json={"query": VIEWER}, headers=bearer(token))

        assert [(await ask()).status_code for _ in range(5)] == [REFUSED_BY_GRAPHQL] * 5
        assert_graphql_rate_limited(await ask())


async def test_an_ipv6_client_is_counted_by_its_network(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    """Anyone with IPv6 holds a /64: its addresses share one counter."""
    async with serving(limited(settings, graphql_anonymous_ip="2/minute"), database) as connect:
        for host in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
            answer = await connect(host).post("/graphql", json={"query": VIEWER})
            assert answer.status_code == REFUSED_BY_GRAPHQL
        assert_graphql_rate_limited(
            await connect("2001:db8:1:2:ffff::3").post("/graphql", json={"query": VIEWER})
        )
        other = await connect("2001:db8:1:3::1").post("/graphql", json={"query": VIEWER})
        assert other.status_code == REFUSED_BY_GRAPHQL


async def test_health_checks_are_not_limited(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    tight = dict.fromkeys(DEFAULT_RATE_LIMITS, "1/minute")
    async with serving(limited(settings, **tight), database) as connect:
        prober = connect("203.0.113.7")
        assert [(await prober.get("/healthz")).status_code for _ in range(5)] == [200] * 5


# -- where the counters live ------------------------------------------------------------------


async def test_two_app_instances_on_one_redis_share_their_counters(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    if not _uses_redis(configured_broker_url()):
        pytest.skip("counters are shared through Redis: set WAYPOST_TEST_BROKER_URL=redis://…")
    tight = limited(settings, graphql_anonymous_ip="4/minute")
    async with serving(tight, database) as first, serving(tight, database) as second:
        one, two = first("203.0.113.7"), second("203.0.113.7")
        for http in (one, two, one, two):
            assert (
                await http.post("/graphql", json={"query": VIEWER})
            ).status_code == REFUSED_BY_GRAPHQL
        assert_graphql_rate_limited(await one.post("/graphql", json={"query": VIEWER}))
        assert_graphql_rate_limited(await two.post("/graphql", json={"query": VIEWER}))


async def test_instances_without_redis_count_on_their_own(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    tight = limited(settings, "memory://", graphql_anonymous_ip="2/minute")
    async with serving(tight, database) as first, serving(tight, database) as second:
        one, two = first("203.0.113.7"), second("203.0.113.7")
        for http in (one, one, two, two):
            assert (
                await http.post("/graphql", json={"query": VIEWER})
            ).status_code == REFUSED_BY_GRAPHQL
        assert_graphql_rate_limited(await one.post("/graphql", json={"query": VIEWER}))


async def test_limits_still_hold_in_each_process_while_redis_is_unreachable(
    settings: Settings, database: Database
) -> None:
    nowhere = limited(settings, "redis://127.0.0.1:9/0", graphql_anonymous_ip="3/minute")
    async with serving(nowhere, database) as connect:
        stranger = connect("203.0.113.7")
        for _ in range(3):
            assert (
                await stranger.post("/graphql", json={"query": VIEWER})
            ).status_code == REFUSED_BY_GRAPHQL
        assert_graphql_rate_limited(await stranger.post("/graphql", json={"query": VIEWER}))


# -- settings ---------------------------------------------------------------------------------


async def test_switched_off_nothing_is_limited(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    tight = dict.fromkeys(DEFAULT_RATE_LIMITS, "1/minute")
    off = limited(settings, **tight).model_copy(update={"rate_limits_enabled": False})
    async with serving(off, database) as connect:
        sender = connect("203.0.113.7")
        for _ in range(5):
            assert (
                await sender.post("/graphql", json={"query": VIEWER})
            ).status_code == REFUSED_BY_GRAPHQL
            assert (await sender.get("/auth/invitations/wpi_guess")).status_code == 410


async def test_one_rule_can_be_lifted(
    settings: Settings, database: Database, fresh_counters: None
) -> None:
    lifted = limited(settings, graphql_anonymous_ip="off", auth_ip="1/minute")
    async with serving(lifted, database) as connect:
        sender = connect("203.0.113.7")
        for _ in range(5):
            assert (
                await sender.post("/graphql", json={"query": VIEWER})
            ).status_code == REFUSED_BY_GRAPHQL
        assert (await sender.get("/auth/invitations/wpi_guess")).status_code == 410
        assert_rate_limited(await sender.get("/auth/invitations/wpi_guess"))


def test_rate_limits_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYPOST_RATE_LIMITS", '{"graphql_ip": "10/second;500/minute"}')
    rules = Settings().rate_limits
    assert rules["graphql_ip"] == "10/second;500/minute"
    assert rules["auth_ip"] == DEFAULT_RATE_LIMITS["auth_ip"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"graphq_ip": "5/minute"}, "unknown rule graphq_ip"),
        ({"auth_ip": "lots"}, "auth_ip: 'lots' is not a rate"),
    ],
)
def test_a_bad_rate_limit_setting_is_refused_by_name(rules: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(rate_limits=rules)


def test_the_defaults_limit_every_area() -> None:
    assert Settings.model_fields["rate_limits_enabled"].default is True
    assert all(rate != "off" for rate in DEFAULT_RATE_LIMITS.values())


@contextmanager
def on_a_real_port(app: Starlette) -> Iterator[int]:
    """The app behind uvicorn on 127.0.0.1 (no lifespan: no background work)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def test_websocket_handshakes_are_limited_per_address(
    settings: Settings, database: Database
) -> None:
    """Opening sockets is counted like requests: over the limit, the handshake gets 429."""
    tight = limited(settings, "memory://", graphql_anonymous_ip="2/minute")
    with on_a_real_port(create_app(tight, database=database)) as port:
        url = f"ws://127.0.0.1:{port}/graphql"
        for _ in range(2):
            async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]):
                pass
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]):
                pass
    answer = refused.value.response
    assert answer.status_code == 429
    assert answer.headers["retry-after"].isdigit()
    assert json.loads(answer.body or b"")["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_each_operation_on_a_socket_counts_against_its_credential(
    settings: Settings, database: Database, tenant_a: Tenant, fresh_counters: None
) -> None:
    """One socket may not carry more operations than the credential may send requests:
    the token in connectionParams is counted, as its header would be over HTTP."""
    tight = limited(settings, graphql_credential="3/minute")
    async with (
        serve(create_app(tight, database=database)) as address,
        graphql_socket(address, params={"authorization": f"Bearer {tenant_a.token}"}) as ws,
    ):
        answers = [await ws.execute("{ viewer { user { email } } }") for _ in range(4)]
    assert [a.get("data") is not None for a in answers] == [True, True, True, False]
    refused = answers[3]["errors"][0]
    assert refused["extensions"]["code"] == "RATE_LIMITED"
    assert refused["extensions"]["retryAfter"] > 0
