"""One log line when a dependency (the broker, the database) stops answering, one when it
is back: an outage retried every second, or met by every request, must not log a
traceback per attempt."""

from __future__ import annotations

import logging
import threading
import time

import asyncpg.exceptions  # type: ignore[import-untyped]
import pika.exceptions
import redis.exceptions
import sqlalchemy.exc
from dramatiq.errors import BrokerConnectionError

# What an unreachable broker or database raises; anything else is a bug and keeps its
# traceback (once per outage too).
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, timed out (the drivers' own errors derive from it)
    ConnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    BrokerConnectionError,
    pika.exceptions.AMQPConnectionError,  # RabbitMQ refused, lost or timed out (live events)
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,  # cannot connect now, too many, ...
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


BACKGROUND_STOPPED = (
    "background sending stopped: the broker or the database is unreachable (%s: %s); "
    "events wait in the outbox and are retried every second"
)
BACKGROUND_RESUMED = (
    "background sending resumed: the broker and the database answer again, after "
    "%.0f s and %d failed attempts"
)


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) says a connection failed, not that code did."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, UNREACHABLE):
            return True
        current = current.__cause__ or getattr(current, "original_error", None)
    return False


class OutageLog:
    """Tracks failed attempts against one dependency and logs only the transitions.

    ``stopped`` is formatted with the error's class name and first line, ``resumed``
    with the outage's seconds and failed attempts. Worker threads share one, hence the
    lock (held only to flip the state)."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        stopped: str = BACKGROUND_STOPPED,
        resumed: str = BACKGROUND_RESUMED,
    ) -> None:
        self.logger = logger
        self.stopped = stopped
        self.resumed = resumed
        self.failures = 0  # failed attempts in the current outage
        self._since: float | None = None
        self._lock = threading.Lock()

    @property
    def is_down(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if self._since is not None:
                return
            self._since = time.monotonic()
        self.logger.warning(
            self.stopped,
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
            exc_info=None if is_unreachable(error) else error,
        )

    def succeeded(self) -> None:
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            since, failures = self._since, self.failures
            self._since = None
            self.failures = 0
        self.logger.warning(self.resumed, time.monotonic() - since, failures)
