"""dramatiq middleware: a lost database or broker is one warning when it goes and one when
it is back, not dramatiq's traceback per failed message ("Failed to process message ...
with unhandled exception") or per reconnect attempt of a consumer.

Only connectivity failures are folded into the outage lines; any other exception keeps
dramatiq's own traceback. A message failing for a lost connection is still retried.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
import redis.exceptions
from dramatiq.broker import MessageProxy
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import Middleware

from backend.db.outage import DATABASE_OUTAGE
from backend.outage import OutageLog, is_unreachable

BROKER_ERRORS: tuple[type[BaseException], ...] = (
    BrokerConnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

BROKER_OUTAGE = OutageLog(
    logging.getLogger("waypost.worker"),
    stopped="broker unreachable (%s: %s); the workers wait for it and reconnect",
    resumed="broker answers again, after %.0f s and %d failed attempts",
)

_WORKER_LOGGER = "dramatiq.worker.WorkerThread"
_CONSUMER_LOGGER = "dramatiq.worker.ConsumerThread({})"


def _outage_of(error: BaseException) -> OutageLog:
    return BROKER_OUTAGE if isinstance(error, BROKER_ERRORS) else DATABASE_OUTAGE


class OutageFilter(logging.Filter):
    """Drops dramatiq's records of connectivity failures, counting them as outage attempts."""

    def filter(self, record: logging.LogRecord) -> bool:
        error: object = record.exc_info[1] if record.exc_info else None
        if error is None and record.msg == "Consumer encountered a connection error: %s":
            error = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if not isinstance(error, BaseException) or not is_unreachable(error):
            return True
        _outage_of(error).failed(error)
        return False


class QuietOutages(Middleware):
    """Installs the filter on dramatiq's worker and consumer loggers while a worker runs."""

    def __init__(self) -> None:
        self.filter = OutageFilter()
        self._loggers: list[logging.Logger] = []

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        queues = broker.get_declared_queues() | broker.get_declared_delay_queues()
        names = [_WORKER_LOGGER, *(_CONSUMER_LOGGER.format(q) for q in sorted(queues))]
        self._loggers = [logging.getLogger(name) for name in names]
        for logger in self._loggers:
            logger.addFilter(self.filter)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        for logger in self._loggers:
            logger.removeFilter(self.filter)
        self._loggers = []

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:  # the message came through the broker and was handled
            BROKER_OUTAGE.succeeded()
