"""Secrets out of the access log: invitation links and the provider's code and state.

uvicorn logs each request's path and query string. An invitation's path is its secret
(whoever holds the link can accept it) and an SSO callback's query carries a one-time
code and the login's state: a log reader must see neither.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
_SECRET_PATHS = re.compile(r"^(/auth/invitations/)[^/?]+")
# Query parameters that carry credentials in OAuth/OpenID flows, or might one day.
_SECRET_PARAMS = frozenset(
    {"code", "state", "id_token", "access_token", "refresh_token", "token", "secret"}
)
_PATH_ARGUMENT = 2  # uvicorn logs (client, method, path with query, http version, status)


def redact(target: str) -> str:
    """A request target (path and query string) with its secrets replaced."""
    path, mark, query = target.partition("?")
    path = _SECRET_PATHS.sub(rf"\g<1>{REDACTED}", path)
    if query:
        query = "&".join(_redact_pair(pair) for pair in query.split("&"))
    return path + mark + query


def _redact_pair(pair: str) -> str:
    name, equals, _value = pair.partition("=")
    return f"{name}={REDACTED}" if equals and name.lower() in _SECRET_PARAMS else pair


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARGUMENT:
            target = args[_PATH_ARGUMENT]
            if isinstance(target, str):
                record.args = (
                    *args[:_PATH_ARGUMENT],
                    redact(target),
                    *args[_PATH_ARGUMENT + 1 :],
                )
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
        logger.addFilter(RedactSecrets())
