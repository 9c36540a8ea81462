"""What a caller presents to GraphQL: a credential, a session cookie, a CSRF token.

Over HTTP they are headers and cookies. A WebSocket carries them two ways: the
handshake (headers and cookies, which a browser cannot choose) and the
``connectionParams`` of ``connection_init`` (which a browser page can). On a socket:

- ``connectionParams.authorization`` (any letter case) wins over the handshake's
  ``Authorization`` header; a credential sent there is never replaced by the cookie.
- The session cookie counts only when the handshake came from the server's own origin
  (``base_url``) or from no browser at all (no ``Origin``): a page on another site that
  opens a socket with the visitor's cookie gets no identity from it.
- The CSRF token comes from ``connectionParams.csrfToken`` or the
  ``X-Waypost-CSRF`` key (any letter case), else the handshake's header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.http.websocket_origin import normalize_origin

from backend.auth.sessions import CSRF_HEADER, SESSION_COOKIE

AUTHORIZATION = "authorization"
CSRF_PARAM = "csrftoken"  # ``csrfToken``, compared without letter case


@dataclass(frozen=True)
class Presented:
    authorization: str | None  # sent (possibly bad, "" if unusable) or None if not sent
    session_secret: str | None  # the session cookie, when it may be used
    csrf_token: str | None


def presented(
    request: HTTPConnection, connection_params: Mapping[str, object] | None, base_url: str
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
    cookie = request.cookies.get(SESSION_COOKIE) if cookie_counts(request, base_url) else None
    return Presented(authorization=authorization, session_secret=cookie, csrf_token=csrf)


def own_origin(base_url: str) -> str | None:
    """The origin browsers send for pages served at ``base_url``."""
    return normalize_origin(base_url)


def cookie_counts(websocket: WebSocket, base_url: str) -> bool:
    """Whether the handshake's cookie may sign the socket in (see the module's rules)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    expected = own_origin(base_url)
    return expected is not None and normalize_origin(origin) == expected


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
