"""GraphiQL comes whole from this server: its page names no other host, its pinned files
are served for good and are npm's bytes, and a real browser with nothing but loopback
runs it under the page's policy."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.entrypoints.graphiql import manifest
from backend.settings import Settings
from tests.fixtures.chromium import chromium_page
from tests.fixtures.databases import TestDatabase
from tests.fixtures.settings import production_settings
from tests.fixtures.sockets import serve
from tests.fixtures.tenants import Tenant

HTML = {"Accept": "text/html"}
LOADED = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="(/[^"]*)"')
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def editor(where: str) -> str:
    """The CodeMirror editor inside ``where`` (a CSS selector), in JavaScript."""
    return f"document.querySelector('{where} .CodeMirror')?.CodeMirror"


QUERY_EDITOR = editor(".graphiql-query-editor")
HEADERS_EDITOR = editor(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
RESPONSE = editor(".graphiql-response")


async def test_the_page_names_no_other_host(client: httpx.AsyncClient) -> None:
    page = (await client.get("/graphql", headers=HTML)).text
    assert re.search(r"https?://", page) is None
    assert LOADED.findall(page)
    assert all(path.startswith("/_graphiql/") for path in LOADED.findall(page))


async def test_every_file_the_page_loads_is_served_for_good_as_npm_made_it(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/graphql", headers=HTML)).text
    listed = manifest()
    paths = LOADED.findall(page)
    assert sorted(path.removeprefix("/_graphiql/") for path in paths) == sorted(listed)
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, path
        name = path.removeprefix("/_graphiql/")
        assert response.headers["content-type"] == MEDIA_TYPES[name[name.rindex(".") :]]
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert hashlib.sha256(response.content).hexdigest() == listed[name]["sha256"], name


@pytest.mark.parametrize("path", ["/_graphiql/manifest.json", "/_graphiql/page.html"])
async def test_only_the_listed_files_are_served(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404


async def test_no_graphiql_file_is_served_in_production(
    test_database: TestDatabase, database: Database
) -> None:
    app = create_app(production_settings(test_database.app_url), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for name in manifest():
            assert (await http.get(f"/_graphiql/{name}")).status_code == 404


async def test_graphiql_runs_in_chromium_from_this_server_alone_under_its_policy(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with serve(create_app(settings, database=database)) as address, chromium_page() as page:
        origin = f"http://{address}"
        await page.call("Page.navigate", url=f"{origin}/graphql")
        query = await page.wait_for(f"{QUERY_EDITOR}?.getValue()")
        assert query is not None, f"no editor; asked for {page.requested}: {page.problems}"
        assert "viewer {" in query
        assert "make run" in query
        headers = await page.evaluate(f"{HEADERS_EDITOR}.getValue()")
        assert json.loads(headers) == {"Authorization": "Bearer <token>"}

        # The placeholder left as it is sends no credential (a session cookie would count
        # then): the answer asks for one, it does not call "<token>" invalid.
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        # The browser reports the 401 as a failed load: expected here, and only that.
        await page.wait_for("false", seconds=10)  # returns once the 401 is seen
        assert page.problems == [
            f"network: Failed to load resource: the server responded "
            f"with a status of 401 (Unauthorized) {origin}/graphql"
        ]
        page.problems.clear()
        refused = await page.wait_for(f"{RESPONSE}?.getValue()")
        assert refused, page.problems
        assert json.loads(refused)["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}

        # The page's own fetcher, with the token put where the placeholder was.
        await page.evaluate(f"{RESPONSE}.setValue('')")
        bearer = json.dumps({"Authorization": f"Bearer {tenant_a.token}"})
        await page.evaluate(f"{HEADERS_EDITOR}.setValue({json.dumps(bearer)})")
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        answer = await page.wait_for(f"{RESPONSE}?.getValue()")
        assert json.loads(answer) == {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}
        assert page.problems == []
        assert [url for url in page.requested if not url.startswith((origin, "data:"))] == []

        # An inline script the policy does not name is refused, and the refusal is seen
        # as a problem: none happened above.
        await page.evaluate(
            "document.body.appendChild(document.createElement('script')).text = '1'"
        )
        await page.wait_for("false", seconds=5)  # returns once a problem is seen
        assert any("Content Security Policy" in problem for problem in page.problems)
