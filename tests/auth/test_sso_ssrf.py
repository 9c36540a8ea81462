"""An organization admin cannot make the server fetch from inside its own network via SSO.

As the attack was made: ``createSsoConnection`` over GraphQL with an issuer on loopback,
or a name that the (real, loopback) DNS server resolves to loopback, private or metadata
addresses, or a discovery document that announces such endpoints. Each is a located
VALIDATION error, and the server that stands for the inside of the network gets no
request. 127.0.0.2 plays a public provider (the only address these tests allow).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.models import SsoConnection
from backend.settings import Environment, Settings
from tests.fixtures.databases import TestDatabase
from tests.fixtures.dns_server import LocalDnsServer
from tests.fixtures.http_recorder import RecordingServer, recording_server, twin_servers
from tests.fixtures.sso import browser_for, create_connection
from tests.fixtures.tenants import Tenant

PUBLIC_STAND_IN = "127.0.0.2"
DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def settings(test_database: TestDatabase, dns_server: LocalDnsServer) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=test_database.app_url,
        dns_nameservers=(dns_server.nameserver,),
        outbound_allow=(PUBLIC_STAND_IN,),
    )


@pytest.fixture
def inner() -> Iterator[RecordingServer]:
    """An internal service on loopback that must never be reached."""
    with recording_server("127.0.0.1") as server:
        server.answer(DISCOVERY, json.dumps({"issuer": "whatever"}))
        server.answer("/jwks", '{"keys": []}')
        yield server


def _discovery(issuer: str, **endpoints: str) -> str:
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "userinfo_endpoint": f"{issuer}/userinfo",
        **endpoints,
    }
    return json.dumps(document)


async def _create(client: httpx.AsyncClient, tenant: Tenant, issuer: str) -> dict[str, Any]:
    return await create_connection(
        client,
        tenant,
        issuer=issuer,
        client_id="attacker",
        client_secret="attacker-secret-0123456789",
        allowed_domains=["alpha.example"],
    )


def _refused_on_issuer(payload: dict[str, Any], *words: str) -> None:
    assert payload["ssoConnection"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", "input.issuer"), error
    for word in words:
        assert word in error["message"], error["message"]


async def _connections(owner: AsyncEngine) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(SsoConnection)) or 0)


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:{port}",
        "https://127.0.0.1:{port}",
        "http://localhost:{port}",
        "http://[::ffff:127.0.0.1]:{port}",
        "http://inner.test:{port}",
        "https://inner.test:{port}",
    ],
)
async def test_an_issuer_on_loopback_is_refused_and_never_fetched(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    dns_server: LocalDnsServer,
    inner: RecordingServer,
    inspector_engine: AsyncEngine,
    issuer: str,
) -> None:
    dns_server.set_a("inner.test", "127.0.0.1")
    payload = await _create(client, tenant_a, issuer.format(port=inner.port))
    _refused_on_issuer(payload, "loopback address")
    assert inner.hits == []
    assert await _connections(inspector_engine) == 0


@pytest.mark.parametrize(
    ("record", "address", "kind"),
    [
        ("A", "10.0.0.1", "private"),
        ("A", "169.254.169.254", "cloud metadata"),
        ("A", "100.100.100.200", "shared (carrier-grade NAT)"),
        ("AAAA", "fd00:ec2::254", "cloud metadata"),
        ("AAAA", "::ffff:192.168.0.1", "private"),
    ],
)
async def test_an_issuer_resolving_to_an_inner_address_is_refused(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    dns_server: LocalDnsServer,
    record: str,
    address: str,
    kind: str,
) -> None:
    # Refused on the DNS answer: nothing is sent to these addresses, by design.
    (dns_server.set_a if record == "A" else dns_server.set_aaaa)("idp.corp.test", address)
    payload = await _create(client, tenant_a, "https://idp.corp.test")
    _refused_on_issuer(payload, f"a {kind} address")


@pytest.mark.parametrize(
    ("endpoint", "target"),
    [
        ("jwks_uri", "{inner}/jwks"),
        ("token_endpoint", "{inner}/token"),
        ("userinfo_endpoint", "{inner}/userinfo"),
        ("jwks_uri", "http://metadata.test/latest/meta-data/"),
        ("token_endpoint", "https://10.0.0.1/token"),
    ],
)
async def test_discovery_announcing_inner_endpoints_is_refused(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    dns_server: LocalDnsServer,
    inner: RecordingServer,
    inspector_engine: AsyncEngine,
    endpoint: str,
    target: str,
) -> None:
    dns_server.set_a("idp.test", PUBLIC_STAND_IN)
    dns_server.set_a("metadata.test", "169.254.169.254")
    with recording_server(PUBLIC_STAND_IN) as provider:
        issuer = f"http://idp.test:{provider.port}"
        announced = {endpoint: target.format(inner=inner.url)}
        provider.answer(DISCOVERY, _discovery(issuer, **announced))
        payload = await _create(client, tenant_a, issuer)
    _refused_on_issuer(payload, endpoint, "address")
    assert [hit.path for hit in provider.hits] == [DISCOVERY]
    assert inner.hits == []
    assert await _connections(inspector_engine) == 0


async def test_a_public_provider_is_accepted(
    client: httpx.AsyncClient, tenant_a: Tenant, dns_server: LocalDnsServer
) -> None:
    """The control: the same provider, announcing its own endpoints, is fine."""
    dns_server.set_a("idp.test", PUBLIC_STAND_IN)
    with recording_server(PUBLIC_STAND_IN) as provider:
        issuer = f"http://idp.test:{provider.port}"
        provider.answer(DISCOVERY, _discovery(issuer))
        payload = await _create(client, tenant_a, issuer)
    assert payload["errors"] == []
    assert payload["ssoConnection"]["issuer"] == issuer


async def test_a_name_rebound_to_loopback_after_discovery_is_not_followed(
    client: httpx.AsyncClient, tenant_a: Tenant, dns_server: LocalDnsServer
) -> None:
    """idp.test answers 127.0.0.2 for discovery, then 127.0.0.1 for its endpoints."""
    dns_server.rebind_a("idp.test", PUBLIC_STAND_IN, "127.0.0.1")
    with twin_servers(PUBLIC_STAND_IN, "127.0.0.1") as (provider, inside):
        issuer = f"http://idp.test:{provider.port}"
        provider.answer(DISCOVERY, _discovery(issuer))
        inside.answer(DISCOVERY, _discovery(issuer))
        payload = await _create(client, tenant_a, issuer)
    _refused_on_issuer(payload, "token_endpoint", "loopback address")
    assert [hit.path for hit in provider.hits] == [DISCOVERY]
    assert inside.hits == []


async def test_sign_in_refuses_a_provider_that_turned_to_inner_endpoints(
    client: httpx.AsyncClient,
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    dns_server: LocalDnsServer,
    inner: RecordingServer,
) -> None:
    """Accepted while honest; its discovery later announces an inner key set."""
    dns_server.set_a("idp.test", PUBLIC_STAND_IN)
    with recording_server(PUBLIC_STAND_IN) as provider:
        issuer = f"http://idp.test:{provider.port}"
        provider.answer(DISCOVERY, _discovery(issuer))
        assert (await _create(client, tenant_a, issuer))["errors"] == []
        provider.answer(DISCOVERY, _discovery(issuer, jwks_uri=f"{inner.url}/jwks"))
        async with browser_for(settings, database) as browser:  # a fresh process's cache
            started = await browser.start(tenant_a.slug)
    assert started.status_code == 502
    assert "jwks_uri" in started.text
    assert inner.hits == []


async def test_production_refuses_a_plain_http_issuer_even_when_allowed(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    from backend.entrypoints.app import create_app

    production = settings.model_copy(update={"env": Environment.PRODUCTION})
    transport = httpx.ASGITransport(app=create_app(production, database=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        payload = await _create(http, tenant_a, f"http://{PUBLIC_STAND_IN}:8443")
    _refused_on_issuer(payload, "must be an https:// URL")
