"""What a caller presents to GraphQL: a credential, a session cookie, a CSRF token.

Over HTTP they are headers and cookies. A WebSocket carries them two ways: the
handshake (headers and cookies, which a browser cannot choose) and the
``connectionParams`` of ``connection_init`` (which a browser page can). On a socket:

- ``connectionParams.authorization`` (any letter case) wins over the handshake's
  ``Authorization`` header; a credential sent there is never replaced by the cookie.
- The session cookie counts only when the handshake came from the server's own origin
  (``base_url``), from an origin listed for CORS (``cors_origins``, trusted with
  credentials over HTTP too) or from no browser at all (no ``Origin``): a page on another
  site that opens a socket with the visitor's cookie gets no identity from it.
- The CSRF token comes from ``connectionParams.csrfToken`` or the
  ``X-Waypost-CSRF`` key (any letter case), else the handshake's header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.http.websocket_origin import normalize_origin

from backend.auth.sessions import CSRF_HEADER, SESSION_COOKIE
from backend.settings import Settings

AUTHORIZATION = "authorization"
CSRF_PARAM = "csrftoken"  # ``csrfToken``, compared without letter case


@dataclass(frozen=True)
class Presented:
    authorization: str | None  # sent (possibly bad, "" if unusable) or None if not sent
    session_secret: str | None  # the session cookie, when it may be used
    csrf_token: str | None


def presented(
    request: HTTPConnection, connection_params: Mapping[str, object] | None, settings: Settings
) -> Presented:
    """The caller's credentials, read by the rules above."""
    headers = request.headers
    if not isinstance(request, WebSocket):
        return Presented(
            authorization=headers.get(AUTHORIZATION) or None,
            session_secret=request.cookies.get(SESSION_COOKIE),
            csrf_token=headers.get(CSRF_HEADER),
        )
    params = connection_params or {}
    authorization = _param(params, AUTHORIZATION)
    if authorization is None:
        authorization = headers.get(AUTHORIZATION) or None
    csrf = _param(params, CSRF_PARAM)
    if csrf is None:
        csrf = _param(params, CSRF_HEADER)
    if csrf is None:
        csrf = headers.get(CSRF_HEADER)
    trusted = trusted_origins(settings)
    cookie = request.cookies.get(SESSION_COOKIE) if cookie_counts(request, trusted) else None
    return Presented(authorization=authorization, session_secret=cookie, csrf_token=csrf)


def trusted_origins(settings: Settings) -> tuple[str, ...]:
    """The origins whose pages may use a visitor's credentials: the server's own (the
    origin browsers send for pages served at ``base_url``) and those listed for CORS."""
    return _trusted(settings.base_url, settings.cors_origins)


@lru_cache(maxsize=8)
def _trusted(base_url: str, cors_origins: tuple[str, ...]) -> tuple[str, ...]:
    own = normalize_origin(base_url)
    return (*((own,) if own else ()), *cors_origins)


def cookie_counts(websocket: WebSocket, trusted: tuple[str, ...]) -> bool:
    """Whether the handshake's cookie may sign the socket in (see the module's rules)."""
    origin = websocket.headers.get("origin")
    return origin is None or normalize_origin(origin) in trusted


def _param(params: Mapping[str, object], name: str) -> str | None:
    """A connectionParams value by case-insensitive key; None if absent or empty.

    A value that is not a string counts as sent but unusable ("").
    """
    for key, value in params.items():
        if key.lower() == name:
            if value is None or value == "":
                return None
            return value if isinstance(value, str) else ""
    return None
