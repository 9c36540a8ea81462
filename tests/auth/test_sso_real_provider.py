"""The whole browser flow against a certified OpenID provider (oidc-provider, on loopback):
login pages, consent, code exchange with PKCE, just-in-time account, session, logout."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.sessions import SESSION_COOKIE
from backend.db.engine import Database
from backend.settings import Settings
from tests.fixtures.oidc_provider import (
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    OidcProvider,
    sign_in,
)
from tests.fixtures.sso import Browser, browser_for, counts, create_connection
from tests.fixtures.tenants import Tenant

VIEWER = """{ viewer { user { email name } organizations { edges { node { slug viewerRole } } }
  workspaces { edges { node { id viewerRole } } } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def connection(
    client: httpx.AsyncClient, tenant_a: Tenant, oidc_provider: OidcProvider
) -> dict[str, Any]:
    payload = await create_connection(
        client,
        tenant_a,
        issuer=oidc_provider.issuer,
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        allowed_domains=["acme.example"],
        default_role="VIEWER",
    )
    assert payload["errors"] == [], payload
    return dict(payload["ssoConnection"])


async def _through_the_provider(browser: Browser, tenant: Tenant, login: str) -> httpx.Response:
    start = await browser.start(tenant.slug, next_path="/journeys")
    assert start.status_code == 302, start.text
    answer = await sign_in(browser.http, start.headers["location"], login)
    return await browser.callback(answer)


async def test_sign_in_provisions_opens_a_session_and_logout_ends_it(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    oidc_provider: OidcProvider,
    inspector_engine: AsyncEngine,
) -> None:
    # What the admin registers at the provider, from WAYPOST_BASE_URL.
    assert connection["redirectUri"] == f"{settings.base_url}/auth/sso/callback"
    assert connection["loginUrl"] == f"{settings.base_url}/auth/sso/alpha/login"
    before = await counts(inspector_engine)
    async with browser_for(settings, database) as browser:
        landed = await _through_the_provider(browser, tenant_a, "alice")
        assert landed.status_code == 303, landed.text
        assert landed.headers["location"] == "/journeys"
        body = await browser.graphql(VIEWER)
        viewer = body["data"]["viewer"]
        assert viewer["user"] == {"email": "alice@acme.example", "name": "Alice Example"}
        assert [e["node"] for e in viewer["organizations"]["edges"]] == [
            {"slug": "alpha", "viewerRole": "MEMBER"}
        ]
        assert [e["node"] for e in viewer["workspaces"]["edges"]] == [
            {"id": tenant_a.ws_gid(0), "viewerRole": "VIEWER"}
        ]
        after = await counts(inspector_engine)
        assert (after.users, after.sessions) == (before.users + 1, before.sessions + 1)

        out = await browser.http.post(
            "https://testserver/auth/logout", headers={"x-waypost-csrf": browser.csrf() or ""}
        )
        assert out.status_code == 204
        assert browser.cookie(SESSION_COOKIE) is None
        gone = await browser.graphql(VIEWER)
        assert gone["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        # Signing in again (the provider remembers the browser) finds the same account.
        again = await _through_the_provider(browser, tenant_a, "alice")
        assert again.status_code == 303
        assert (await counts(inspector_engine)).users == after.users


async def test_the_provider_answer_names_its_issuer_and_the_code_is_pkce_bound(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    oidc_provider: OidcProvider,
) -> None:
    async with browser_for(settings, database) as browser:
        start = await browser.start(tenant_a.slug)
        answer = await sign_in(browser.http, start.headers["location"], "alice")
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["iss"] == [oidc_provider.issuer]
        # Replaying the provider's answer after it was used gets nowhere.
        assert (await browser.callback(answer)).status_code == 303
        replay = await browser.callback(answer)
        assert replay.status_code == 403


async def test_the_real_provider_refuses_people_outside_the_rules(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    before = await counts(inspector_engine)
    for login, reason in (
        ("unverified", "not verified your email"),
        ("mallory", "allows @acme.example"),
    ):
        async with browser_for(settings, database) as browser:
            landed = await _through_the_provider(browser, tenant_a, login)
            assert landed.status_code == 403, landed.text
            assert reason in landed.text
            assert browser.cookie(SESSION_COOKIE) is None
    assert await counts(inspector_engine) == before
