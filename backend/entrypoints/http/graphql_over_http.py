"""GraphQL over HTTP: the media type a client gets, and the HTTP status of an answer.

- The client chooses by ``Accept`` between ``application/graphql-response+json`` and
  ``application/json``; no ``Accept``, ``*/*`` or neither named gives
  ``application/json``, which older clients expect.
- A request error (nothing executed: the document does not parse or validate, a
  variable does not fit, a limit refused it) has no ``data``. With
  ``application/graphql-response+json`` its status says so: 400 (500 when it was our
  fault); with ``application/json`` it is 200, as those clients expect.
- A missing, invalid or expired credential is 401 with ``WWW-Authenticate`` on either,
  the reason in ``error``/``error_description`` as RFC 6750 writes them.
- A request that is not GraphQL-over-HTTP at all (bad JSON, no query, a mutation over
  GET) is answered as JSON too, with a code, never as plain text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from cross_web import HTTPException
from starlette.responses import Response

from backend.json_output import dumps
from graphql_schema.errors import CSRF_TOKEN_MISSING, INTERNAL, UNAUTHENTICATED

log = logging.getLogger("waypost.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
REALM = "waypost"

# What a transport error's code is, by its status.
_TRANSPORT_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def _quality(accept: str, media_type: str) -> float:
    """How much ``accept`` wants ``media_type`` (0 when not at all), by the most
    specific range that names it."""
    kind = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        name, *parameters = (p.strip() for p in part.split(";"))
        name = name.lower()
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(name)
        if specificity is None or specificity < best[0]:
            continue
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        best = (specificity, quality)
    return best[1]


def media_type_for(accept: str | None) -> str:
    """``application/graphql-response+json`` when the client names it and wants it at
    least as much as ``application/json``; else ``application/json``."""
    if not accept or GRAPHQL_RESPONSE_JSON not in accept.lower():
        return JSON
    wanted = _quality(accept, GRAPHQL_RESPONSE_JSON)
    return GRAPHQL_RESPONSE_JSON if wanted > 0 and wanted >= _quality(accept, JSON) else JSON


Body = dict[str, Any]  # one operation's answer, as sent


def _refused(body: Body) -> bool:
    """A request error, as ``process_result`` writes it: errors and no data at all."""
    return "data" not in body and bool(body.get("errors"))


def _extensions(body: Body) -> list[dict[str, Any]]:
    return [e.get("extensions") or {} for e in body.get("errors") or ()]


def status_for(bodies: Sequence[Body], media_type: str) -> int:
    """The status of an answer to one operation or to a batch."""
    if not bodies or not all(_refused(b) for b in bodies):
        return 200  # something ran: its errors are in the body
    extensions = [x for body in bodies for x in _extensions(body)]
    if all(x.get("code") == UNAUTHENTICATED for x in extensions):
        # Signed in by cookie, but without the page's CSRF token: forbidden, not unknown.
        csrf = all(x.get("reason") == CSRF_TOKEN_MISSING for x in extensions)
        return 403 if csrf else 401
    if media_type != GRAPHQL_RESPONSE_JSON:
        return 200
    return 500 if any(x.get("code") == INTERNAL for x in extensions) else 400


def www_authenticate(bodies: Sequence[Body]) -> str:
    """The challenge of a 401: why the credential sent was refused (RFC 6750)."""
    for body in bodies:
        for error in body.get("errors") or ():
            if (error.get("extensions") or {}).get("reason"):
                description = str(error.get("message", "")).replace('"', "'")
                return (
                    f'Bearer realm="{REALM}", error="invalid_token",'
                    f' error_description="{description}"'
                )
    return f'Bearer realm="{REALM}"'  # nothing was sent: no error code, as RFC 6750 says


class TransportError(HTTPException):
    """A request refused before GraphQL could read it, with the code to answer."""

    def __init__(
        self, status_code: int, reason: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, reason)
        self.code = code
        self.headers = headers or {}


def transport_code(error: HTTPException) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else _TRANSPORT_CODES.get(error.status_code, "BAD_REQUEST")


def transport_error(error: HTTPException, media_type: str) -> Response:
    """A refusal of a request that is not GraphQL-over-HTTP, readable by the same clients."""
    body = {"errors": [{"message": error.reason, "extensions": {"code": transport_code(error)}}]}
    headers = {**getattr(error, "headers", {}), "content-type": f"{media_type}; charset=utf-8"}
    return Response(dumps(body), status_code=error.status_code, headers=headers)


def note_client_mistake(request_id: str, codes: Iterable[str | None]) -> None:
    """One line for a request the client got wrong: what it is called and which request,
    so it can be found from the client's side (X-Request-Id). Never the document, the
    variables or a traceback: they are the client's, and the answer already has them."""
    named = sorted({c or "UNKNOWN" for c in codes})
    log.info("client error request=%s code=%s", request_id, ",".join(named))
