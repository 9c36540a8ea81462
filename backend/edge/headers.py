"""Security headers on every answer: no framing, no sniffing, no referrer, no caching of
credentials, and a content security policy (the default one runs nothing)."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "content-security-policy"
# JSON answers and the sign-in pages: nothing runs, nothing loads, forms post only
# back to us (the invitation's confirmation), and no other site may frame us.
DEFAULT_POLICY = "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
ALWAYS = {
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
    "x-content-type-options": "nosniff",
    # Invitation secrets travel in URLs: a link followed from one of our pages must
    # not hand its address to the next site.
    "referrer-policy": "no-referrer",
}


def _no_store(path: str) -> bool:
    """Answers that may carry credentials: GraphQL (a new token), sign-in and sessions."""
    return path == "/graphql" or path.startswith(("/graphql/", "/auth/"))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = _no_store(scope["path"])

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                if CSP not in headers:  # a page may bring its own (GraphiQL does)
                    headers[CSP] = DEFAULT_POLICY
                if no_store:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_hardened)


def page_policy(page: str) -> str:
    """A policy for an HTML page that lets it load exactly the hosts it names.

    Scripts and stylesheets are allowed by their origin: 'self' for a path on this
    server, else their https host (the page pins such a file with an integrity hash);
    inline scripts by the hash of their text, so no other inline script can run.
    Inline styles stay allowed: they cannot run code.
    """
    found = _Resources()
    found.feed(page)
    found.close()
    script_hosts = sorted({_origin(url) for url in found.scripts})
    style_hosts = sorted({_origin(url) for url in found.styles})
    inline = [f"'sha256-{_digest(code)}'" for code in found.inline_scripts]
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src", *script_hosts, *inline]),
            " ".join(["style-src", "'unsafe-inline'", *style_hosts]),
            " ".join(["font-src", *style_hosts, "data:"]),
            "img-src 'self' data:",
            "connect-src 'self'",  # also ws(s):// to this host, for subscriptions
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc and url.startswith("/"):
        return "'self'"
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"a page may load only its own paths or https URLs: {url!r}")
    return f"https://{parts.netloc}"


def _digest(code: str) -> str:
    return base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()


class _Resources(HTMLParser):
    """What a page makes the browser load or run."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)  # hash the script text as written
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline_scripts: list[str] = []
        self._inline: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"] or "")
        elif tag == "script":
            self._inline = []
        elif tag == "link" and values.get("rel") == "stylesheet":
            self.styles.append(values.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inline is not None:
            self.inline_scripts.append("".join(self._inline))
            self._inline = None

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._inline.append(data)
