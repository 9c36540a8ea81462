"""A browser page on a listed origin may call the API, with its credentials; a page on
any other origin gets no CORS header at all (its browser then hides every answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.fixtures.tenants import Tenant

APP = "https://app.example.com"
OTHER = "https://evil.example.net"
VIEWER = "{ viewer { user { email } } }"


@pytest_asyncio.fixture(loop_scope="session")
async def cors_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    listed = settings.model_copy(update={"cors_origins": (APP, "http://localhost:5173")})
    app = create_app(listed, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def preflight(origin: str, headers: str = "authorization, content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


async def test_a_listed_origin_s_preflight_is_answered_with_credentials(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        "/graphql", headers=preflight(APP, "authorization, content-type, x-waypost-csrf")
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST"} <= allowed
    headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in headers
    assert "x-waypost-csrf" in headers
    assert int(response.headers["access-control-max-age"]) > 0


async def test_a_listed_origin_reads_the_answer_and_its_request_id(
    cors_client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await cors_client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Origin": APP, "Authorization": f"Bearer {tenant_a.token}"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert response.headers["x-request-id"]
    assert "origin" in response.headers["vary"].lower()


async def test_an_origin_not_listed_gets_no_cors_header(
    cors_client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    refused = await cors_client.options("/graphql", headers=preflight(OTHER))
    assert refused.status_code == 400
    answered = await cors_client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Origin": OTHER, "Authorization": f"Bearer {tenant_a.token}"},
    )
    for response in (refused, answered):
        cors = [name for name in response.headers if name.startswith("access-control-")]
        assert cors == [], response.headers
    assert "origin" in answered.headers["vary"].lower()


async def test_a_look_alike_of_a_listed_origin_is_not_listed(
    cors_client: httpx.AsyncClient,
) -> None:
    for near in (
        "http://app.example.com",  # another scheme
        "https://app.example.com:8443",  # another port
        "https://app.example.com.evil.example.net",
        "https://evilapp.example.com",
        "null",  # a sandboxed frame, a file:// page
    ):
        response = await cors_client.options("/graphql", headers=preflight(near))
        assert "access-control-allow-origin" not in response.headers, near


async def test_a_header_not_allowed_fails_the_preflight(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.options("/graphql", headers=preflight(APP, "x-forged-header"))
    assert response.status_code == 400


async def test_refusals_are_readable_by_a_listed_origin(cors_client: httpx.AsyncClient) -> None:
    # A refusal made before GraphQL runs (a body too large to read) still carries the
    # CORS headers: the page can show why, instead of a network error.
    response = await cors_client.post(
        "/graphql",
        content=b"x" * (3 * 1024 * 1024),
        headers={"Origin": APP, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == APP


async def test_without_listed_origins_no_page_elsewhere_is_served(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options("/graphql", headers=preflight(APP))
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code >= 400


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://localhost:5173/", "http://localhost:5173"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),  # as browsers send it
    ],
)
def test_origins_are_written_as_browsers_send_them(entry: str, expected: str) -> None:
    assert Settings(cors_origins=entry).cors_origins == (expected,)


def test_several_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYPOST_CORS_ORIGINS", "https://a.example.com, http://localhost:3000")
    assert Settings().cors_origins == ("https://a.example.com", "http://localhost:3000")


@pytest.mark.parametrize(
    "entry",
    ["*", "https://*.example.com", "app.example.com", "https://app.example.com/path", "ftp://x"],
)
def test_anything_but_an_exact_origin_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(cors_origins=entry)
    assert repr(entry) in str(raised.value) or entry in str(raised.value)


def test_production_takes_https_origins_only() -> None:
    production = {
        "env": "production",
        "secret_key": "x" * 20 + "A1b2C3d4E5f6G7h8I9j0K",
        "base_url": "https://waypost.example.com",
        "database_url": "postgresql+asyncpg://waypost@db/waypost",
        "broker_url": "redis://redis:6379/0",
    }
    assert Settings(**production, cors_origins="https://app.example.com").cors_origins
    with pytest.raises(ValidationError, match=r"http://app\.example\.com"):
        Settings(**production, cors_origins="https://a.example.com,http://app.example.com")
