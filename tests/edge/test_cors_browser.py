"""A single-page app on another origin, in a real browser: with its origin listed it
queries with the browser's fetch and talks GraphQL over the WebSocket (its token in
``connectionParams``); the same page on an origin not listed gets nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from backend.db.engine import Database
from backend.entrypoints.app import create_app
from backend.settings import Settings
from tests.fixtures.chromium import Page, chromium_page
from tests.fixtures.sockets import serve
from tests.fixtures.tenants import Tenant

VIEWER = "{ viewer { user { email } } }"

# The app's script: one query by fetch, one over the socket; each outcome lands on window.
SCRIPT = """
const API = %(api)s, TOKEN = %(token)s, QUERY = %(query)s;
window.fetched = fetch(API + "/graphql", {
  method: "POST",
  headers: {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN},
  body: JSON.stringify({query: QUERY}),
}).then(async (r) => ({status: r.status, requestId: r.headers.get("x-request-id"),
                       body: await r.json()}),
        (e) => ({failed: String(e)}))
  .then((outcome) => { window.fetchedOutcome = JSON.stringify(outcome); });

const socket = new WebSocket(API.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
socket.onopen = () => socket.send(JSON.stringify(
  {type: "connection_init", payload: {authorization: "Bearer " + TOKEN}}));
socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === "connection_ack") {
    socket.send(JSON.stringify({id: "1", type: "subscribe", payload: {query: QUERY}}));
  } else if (message.type === "next") {
    window.socketOutcome = JSON.stringify({next: message.payload});
  }
};
socket.onclose = (event) => {
  window.socketOutcome = window.socketOutcome || JSON.stringify({closed: event.code});
};
"""


def page_server(api: list[str], token: str) -> Starlette:
    """The app's page; ``api`` holds the API's origin once it listens."""

    async def index(_: Request) -> HTMLResponse:
        values = {"api": api[0], "token": token, "query": VIEWER}
        script = SCRIPT % {name: json.dumps(value) for name, value in values.items()}
        head = '<title>app</title><link rel="icon" href="data:,">'  # no favicon request
        return HTMLResponse(f"<!doctype html>{head}<script>{script}</script>")

    return Starlette(routes=[Route("/", index)])


@asynccontextmanager
async def spa_and_api(
    settings: Settings, database: Database, token: str, *, listed: bool
) -> AsyncIterator[tuple[str, str]]:
    """A page server and the API on two loopback ports (two origins), the page's origin
    listed for CORS or not. Yields (page URL, API origin)."""
    api: list[str] = []
    async with AsyncExitStack() as stack:
        page_origin = "http://" + await stack.enter_async_context(serve(page_server(api, token)))
        cors = (page_origin,) if listed else ("http://127.0.0.1:1",)
        app = create_app(settings.model_copy(update={"cors_origins": cors}), database=database)
        api.append("http://" + await stack.enter_async_context(serve(app)))
        yield f"{page_origin}/", api[0]


async def settled(page: Page, expression: str, seconds: float = 20.0) -> dict[str, object]:
    """The JSON the page's script left in ``expression``, failures and all."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (value := await page.evaluate(expression)) is None:
        assert asyncio.get_running_loop().time() < deadline, f"{expression} never set"
        await asyncio.sleep(0.1)
    outcome: dict[str, object] = json.loads(value)
    return outcome


async def outcomes(page: Page) -> tuple[dict[str, object], dict[str, object]]:
    return await settled(page, "window.fetchedOutcome"), await settled(page, "window.socketOutcome")


async def test_a_page_on_a_listed_origin_queries_by_fetch_and_over_the_socket(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with (
        spa_and_api(settings, database, tenant_a.token, listed=True) as (url, api),
        chromium_page() as page,
    ):
        await page.call("Page.navigate", url=url)
        fetched, socket = await outcomes(page)
        assert page.problems == []
        # Cross-origin for real: the preflight went to the API, then the request.
        assert page.requested.count(f"{api}/graphql") >= 1
    viewer = {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}
    assert fetched["status"] == 200
    assert fetched["body"] == viewer
    assert fetched["requestId"]  # exposed to the page
    assert socket == {"next": viewer}


async def test_a_page_on_an_origin_not_listed_gets_nothing(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with (
        spa_and_api(settings, database, tenant_a.token, listed=False) as (url, _),
        chromium_page() as page,
    ):
        await page.call("Page.navigate", url=url)
        fetched, socket = await outcomes(page)
        blocked = [p for p in page.problems if "CORS policy" in p]
    assert "failed" in fetched  # the browser hid the answer from the page
    assert blocked, "the browser did not report the CORS refusal"
    assert "next" not in socket  # the handshake was refused (403): no data
