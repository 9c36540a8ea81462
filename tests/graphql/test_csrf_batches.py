"""A cookie-authenticated batch: every mutation in it proves the CSRF token, even after a
query in the same request has already signed the caller in."""

from __future__ import annotations

from typing import Any

from backend.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from backend.db.engine import Database
from backend.settings import Settings
from tests.fixtures.sso import APP_ORIGIN, browser_for
from tests.fixtures.tenants import Tenant, owner_session

READ = {"query": "{ viewer { user { email } } }"}
MINT = {"query": 'mutation { createApiToken(input: {name: "batched"}) { token errors { code } } }'}


async def _batch(settings: Settings, database: Database, tenant: Tenant, csrf: bool) -> Any:
    opened = await owner_session(database, settings, tenant)
    async with browser_for(settings, database) as browser:
        browser.http.cookies.set(SESSION_COOKIE, opened.secret, domain="testserver.local")
        browser.http.cookies.set(CSRF_COOKIE, opened.csrf_token, domain="testserver.local")
        headers = {CSRF_HEADER: opened.csrf_token} if csrf else {}
        answer = await browser.http.post(
            f"{APP_ORIGIN}/graphql", json=[READ, MINT], headers=headers
        )
        return answer.json()


async def test_a_mutation_after_a_query_in_a_cookie_batch_still_needs_the_csrf_token(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    read, mint = await _batch(settings, database, tenant_a, csrf=False)
    assert read["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
    assert "data" not in mint  # refused before anything ran
    assert mint["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "X-Waypost-CSRF" in mint["errors"][0]["message"]


async def test_with_the_csrf_token_the_batched_mutation_runs(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    _read, mint = await _batch(settings, database, tenant_a, csrf=True)
    assert mint["data"]["createApiToken"]["errors"] == []
