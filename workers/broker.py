"""The dramatiq broker named by WAYPOST_BROKER_URL, and in-process workers for it.

memory://  the embedded default: dramatiq's in-process broker, worked by threads
           inside `waypost serve` (no services needed).
redis://   Redis; amqp:// RabbitMQ: real brokers, worked by `waypost worker`.
"""

from __future__ import annotations

from types import TracebackType

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

IN_PROCESS_SCHEMES = ("memory", "stub")


class UnsupportedBrokerError(ValueError):
    pass


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def is_in_process(url: str) -> bool:
    return scheme_of(url) in IN_PROCESS_SCHEMES


def build_broker(url: str) -> dramatiq.Broker:
    scheme = scheme_of(url)
    if scheme in IN_PROCESS_SCHEMES:
        return StubBroker()
    if scheme in ("redis", "rediss"):
        return RedisBroker(url=url)  # type: ignore[no-untyped-call]
    if scheme in ("amqp", "amqps"):
        return RabbitmqBroker(url=url)
    raise UnsupportedBrokerError(
        f"WAYPOST_BROKER_URL must start with memory://, redis:// or amqp://, not {url!r}"
    )


class InProcessWorkers:
    """Worker threads consuming a broker from inside this process."""

    def __init__(self, broker: dramatiq.Broker, *, threads: int = 2) -> None:
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)

    def __enter__(self) -> InProcessWorkers:
        self.worker.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.worker.stop()
