"""Cross-origin requests from browser pages on the origins the settings list (CORS).

Starlette's middleware answers the preflight and adds the response's headers; two
things are narrowed here:
- an origin is an exact ``scheme://host[:port]``, never a pattern or ``*``;
- a page on an origin that is not listed gets none of the CORS headers: Starlette
  would still tell it the methods and headers allowed, and
  ``Access-Control-Allow-Credentials: true`` (harmless without the allowed origin, but
  it reads as a promise, and tells a prober what the API accepts).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Send

# What a GraphQL client sends beyond the simple headers: its credential, the body's type,
# the CSRF token of a cookie session, its own request id, Apollo's client awareness.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-waypost-csrf",
    "x-request-id",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
)
EXPOSED_HEADERS = ("x-request-id",)
PREFLIGHT_MAX_AGE_SECONDS = 600


def exact_origin(entry: str) -> str:
    """``entry`` as browsers write an Origin header; ValueError naming what is wrong."""
    value = entry.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{entry!r} is not an origin such as https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"{entry!r}: an origin is a scheme, a host and a port only (no path, query or user)"
        )
    if "*" in value:
        raise ValueError(f"{entry!r}: origins are listed exactly, without wildcards")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{entry!r} has an invalid port") from None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():  # browsers send an internationalized name as punycode
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{entry!r} has an invalid host name") from None
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


class ListedOriginsCORS(CORSMiddleware):
    """CORS for exactly ``origins``, with credentials, GET and POST."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=("GET", "POST"),
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=True,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if not self.is_allowed_origin(request_headers["origin"]):
            for name in [n for n in response.headers if n.startswith("access-control-")]:
                del response.headers[name]
        return response

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if origin is None or self.is_allowed_origin(origin):
            await super().send(message, send, request_headers)
            return
        if message["type"] == "http.response.start":
            # The answer differs by Origin: caches must not give it to a listed origin.
            headers = Headers(raw=message.get("headers", []))
            vary = ", ".join([*headers.getlist("vary"), "Origin"])
            message["headers"] = [
                *((k, v) for k, v in message.get("headers", []) if k.lower() != b"vary"),
                (b"vary", vary.encode("latin-1")),
            ]
        await send(message)
