"""Every answer tells the browser how to treat it: no framing, no sniffing, no referrer,
nothing cached where credentials travel; GraphiQL keeps working under its own policy."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

from backend.db.engine import Database
from backend.settings import Settings
from tests.fixtures.tenants import Tenant

CREATE_TOKEN = """mutation { createApiToken(input: {name: "ci"}) { token errors { code } } }"""


def policy(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers.get("content-security-policy", "")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def assert_browser_hardening(response: httpx.Response) -> None:
    assert response.headers.get("x-frame-options") == "DENY", response.headers
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert policy(response).get("frame-ancestors") == ["'none'"]


class _Resources(HTMLParser):
    """What a page makes the browser load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []  # external script URLs
        self.styles: list[str] = []  # external stylesheet URLs
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"] or "")
        elif tag == "script":
            self._in_script = True
            self.inline_scripts.append("")
        elif tag == "link" and values.get("rel") == "stylesheet":
            self.styles.append(values.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts[-1] += data


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"


async def test_graphiql_runs_under_a_policy_that_allows_exactly_what_it_loads(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert_browser_hardening(response)
    assert response.headers["cache-control"] == "no-store"
    csp = policy(response)
    page = _Resources()
    page.feed(response.text)
    assert page.scripts
    assert page.styles
    assert page.inline_scripts

    for url in page.scripts:
        assert origin(url) in csp["script-src"], url
    for url in page.styles:
        assert origin(url) in csp["style-src"], url
    for code in page.inline_scripts:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    # The page's files come from this server: no host or scheme is let in but data:
    # (the stylesheet's fonts and the empty icon).
    assert {s for sources in csp.values() for s in sources if not s.startswith("'")} == {"data:"}
    assert {"'self'"} == {origin(url) for url in page.scripts + page.styles}
    assert csp["default-src"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]  # queries, and subscriptions over ws(s) same host
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]


@pytest.mark.parametrize(
    "path",
    ["/auth/invitations/not-a-real-invitation", "/auth/sso/nobody/login", "/auth/sso/callback"],
)
async def test_sign_in_pages_cannot_be_framed_and_run_nothing(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert_browser_hardening(response)
    assert response.headers["cache-control"] == "no-store"
    csp = policy(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]  # the invitation's confirming POST
    assert csp["base-uri"] == ["'none'"]
    assert "script-src" not in csp  # falls back to default-src 'none'


async def test_a_graphql_answer_carrying_a_new_token_is_never_stored(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": CREATE_TOKEN},
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert response.json()["data"]["createApiToken"]["token"].startswith("wp_")
    assert response.headers["cache-control"] == "no-store"
    assert_browser_hardening(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/no-such-page"), ("PUT", "/graphql")],
)
async def test_every_answer_is_hardened(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_browser_hardening(response)
    assert policy(response)["default-src"] == ["'none'"]


async def test_a_refused_body_is_hardened_too(settings: Settings, database: Database) -> None:
    from backend.entrypoints.app import create_app

    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/graphql", content=b" " * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert_browser_hardening(response)
    assert response.headers["cache-control"] == "no-store"
