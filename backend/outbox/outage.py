"""One log line when background sending stops reaching the broker or database, one when
it is back: an outage retried every second must not log a traceback per attempt."""

from __future__ import annotations

import logging
import time

import redis.exceptions
import sqlalchemy.exc
from dramatiq.errors import BrokerConnectionError

# What an unreachable broker or database raises; anything else is a bug and keeps its
# traceback (once per outage too).
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, timed out (the drivers' own errors derive from it)
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    BrokerConnectionError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


def _is_unreachable(error: BaseException) -> bool:
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, UNREACHABLE)


class OutageLog:
    """Tracks failed attempts of the relay and the schedule (one event loop, no locks)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.failures = 0  # failed attempts in the current outage
        self._since: float | None = None

    @property
    def is_down(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self._since is not None:
            return
        self._since = time.monotonic()
        self.logger.warning(
            "background sending stopped: the broker or the database is unreachable (%s: %s); "
            "events wait in the outbox and are retried every second",
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
            exc_info=None if _is_unreachable(error) else error,
        )

    def succeeded(self) -> None:
        if self._since is None:
            return
        self.logger.warning(
            "background sending resumed: the broker and the database answer again, after "
            "%.0f s and %d failed attempts",
            time.monotonic() - self._since,
            self.failures,
        )
        self._since = None
        self.failures = 0
