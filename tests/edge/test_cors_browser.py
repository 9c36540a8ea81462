"""A single-page app on another origin, in a real browser: with its origin listed it
queries with the browser's fetch, and over the WebSocket (its token in
``connectionParams``) it queries and subscribes to a map, receiving a change made
meanwhile; the same page on an origin not listed gets nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
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
CHANGED = "subscription($id: ID!) { journeyMapChanged(id: $id) { version journeyMap { title } } }"
CREATE_MAP = """mutation($input: CreateJourneyMapInput!) {
  createJourneyMap(input: $input) { journeyMap { id } errors { code } } }"""
RENAME = """mutation($input: UpdateJourneyMapInput!) {
  updateJourneyMap(input: $input) { errors { code } } }"""

# The app's script: a query by fetch; over the socket a query and a subscription to a
# map. Each outcome lands on window.
SCRIPT = """
const API = %(api)s, TOKEN = %(token)s, QUERY = %(query)s, CHANGED = %(changed)s;
const MAP = %(map)s;
fetch(API + "/graphql", {
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
    socket.send(JSON.stringify({id: "q", type: "subscribe", payload: {query: QUERY}}));
    socket.send(JSON.stringify(
      {id: "s", type: "subscribe", payload: {query: CHANGED, variables: {id: MAP}}}));
  } else if (message.type === "next" && message.id === "q") {
    window.socketOutcome = JSON.stringify({next: message.payload});
  } else if (message.id === "s") {
    window.changeOutcome = JSON.stringify({[message.type]: message.payload});
  }
};
socket.onclose = (event) => {
  window.socketOutcome = window.socketOutcome || JSON.stringify({closed: event.code});
};
"""


@dataclass
class Api:
    origin: str
    token: str

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{self.origin}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body


def page_server(values: dict[str, str]) -> Starlette:
    """The app's page; ``values`` is filled (API origin, map) once the API listens."""

    async def index(_: Request) -> HTMLResponse:
        script = SCRIPT % {name: json.dumps(value) for name, value in values.items()}
        head = '<title>app</title><link rel="icon" href="data:,">'  # no favicon request
        return HTMLResponse(f"<!doctype html>{head}<script>{script}</script>")

    return Starlette(routes=[Route("/", index)])


@asynccontextmanager
async def spa_and_api(
    settings: Settings, database: Database, tenant: Tenant, *, listed: bool
) -> AsyncIterator[tuple[str, Api, str]]:
    """A page server and the API on two loopback ports (two origins), the page's origin
    listed for CORS or not, and a map the page watches. Yields (page URL, API, map id)."""
    values = {"token": tenant.token, "query": VIEWER, "changed": CHANGED}
    async with AsyncExitStack() as stack:
        page_origin = "http://" + await stack.enter_async_context(serve(page_server(values)))
        cors = (page_origin,) if listed else ("http://127.0.0.1:1",)
        app = create_app(settings.model_copy(update={"cors_origins": cors}), database=database)
        # With its lifespan: the relay that announces committed changes to subscribers.
        api = Api(
            "http://" + await stack.enter_async_context(serve(app, lifespan=True)), tenant.token
        )
        made = await api.graphql(
            CREATE_MAP, {"input": {"workspaceId": tenant.ws_gid(), "title": "Seen live"}}
        )
        map_id: str = made["data"]["createJourneyMap"]["journeyMap"]["id"]
        values.update(api=api.origin, map=map_id)
        yield f"{page_origin}/", api, map_id


async def settled(page: Page, expression: str, seconds: float = 20.0) -> dict[str, Any]:
    """The JSON the page's script left in ``expression``, failures and all."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (value := await page.evaluate(expression)) is None:
        assert asyncio.get_running_loop().time() < deadline, f"{expression} never set"
        await asyncio.sleep(0.1)
    outcome: dict[str, Any] = json.loads(value)
    return outcome


async def renamed_until_seen(page: Page, api: Api, map_id: str) -> dict[str, Any]:
    """The page's first journeyMapChanged message: the map is renamed until one comes
    (the subscription listens some moments after the page asked for it)."""
    for attempt in range(5):
        title = f"Renamed elsewhere {attempt}"
        await api.graphql(RENAME, {"input": {"id": map_id, "title": title}})
        try:
            return await settled(page, "window.changeOutcome", seconds=3)
        except AssertionError:
            continue
    raise AssertionError("no change reached the page")


async def test_a_page_on_a_listed_origin_queries_by_fetch_and_subscribes_over_the_socket(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with (
        spa_and_api(settings, database, tenant_a, listed=True) as (url, api, map_id),
        chromium_page() as page,
    ):
        await page.call("Page.navigate", url=url)
        fetched = await settled(page, "window.fetchedOutcome")
        socket = await settled(page, "window.socketOutcome")
        change = await renamed_until_seen(page, api, map_id)
        assert page.problems == []
        # Cross-origin for real: the page's requests went to the API's origin.
        assert f"{api.origin}/graphql" in page.requested
    viewer = {"data": {"viewer": {"user": {"email": tenant_a.owner_email}}}}
    assert fetched["status"] == 200
    assert fetched["body"] == viewer
    assert fetched["requestId"]  # exposed to the page
    assert socket == {"next": viewer}
    [(kind, payload)] = change.items()
    assert kind == "next", change
    seen = payload["data"]["journeyMapChanged"]
    assert seen["version"] >= 2
    assert seen["journeyMap"]["title"].startswith("Renamed elsewhere")


async def test_a_page_on_an_origin_not_listed_gets_nothing(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with (
        spa_and_api(settings, database, tenant_a, listed=False) as (url, _, _),
        chromium_page() as page,
    ):
        await page.call("Page.navigate", url=url)
        fetched = await settled(page, "window.fetchedOutcome")
        socket = await settled(page, "window.socketOutcome")
        blocked = [p for p in page.problems if "CORS policy" in p]
    assert "failed" in fetched  # the browser hid the answer from the page
    assert blocked, "the browser did not report the CORS refusal"
    assert "next" not in socket  # the handshake was refused (403): no data
