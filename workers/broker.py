"""The dramatiq broker named by WAYPOST_BROKER_URL, and in-process workers for it.

memory://  the embedded default: dramatiq's in-process broker, worked by threads
           inside `waypost serve` (no services needed).
redis://   Redis; amqp:// RabbitMQ: real brokers, worked by `waypost worker`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from backend.db.types import utcnow

IN_PROCESS_SCHEMES = ("memory", "stub")

# Redis: a worker that sent no command for this long is dead, and the messages it had
# taken go back to their queue (dramatiq's default, a minute, plus its rare maintenance
# made it about four). Live workers poll every fraction of a second, so this only
# needs to cover a stall; a message taken over from a stalled (not dead) worker is
# handled twice at worst, which every actor tolerates.
HEARTBEAT_TIMEOUT_MS = 15_000
# Per million commands on a queue, how many also requeue dead workers' messages: with
# workers polling several times a second, a few seconds after the heartbeat times out.
MAINTENANCE_CHANCE = 100_000
# A marker in the broker's Redis database: gone when Redis restarts without persistence
# or is flushed, taking every message with it (see epoch_of).
EPOCH_KEY = "waypost:broker-epoch"


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
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=url, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=MAINTENANCE_CHANCE
        )
    if scheme in ("amqp", "amqps"):
        return RabbitmqBroker(url=url)
    raise UnsupportedBrokerError(
        f"WAYPOST_BROKER_URL must start with memory://, redis:// or amqp://, not {url!r}"
    )


class RedisEpoch:
    """When the broker's Redis began holding what it holds now: the time written in its
    epoch marker, which the first to find the marker missing writes."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def __call__(self) -> datetime:
        now = utcnow()
        pipe = self.client.pipeline(transaction=False)
        pipe.set(EPOCH_KEY, now.isoformat(), nx=True)
        pipe.get(EPOCH_KEY)
        _created, value = pipe.execute()
        return datetime.fromisoformat(value.decode()) if value else now


def epoch_of(broker: dramatiq.Broker) -> Callable[[], datetime | None]:
    """How the relay tells that the broker lost its messages (None: it cannot tell).

    Redis: the epoch marker. In-process: the broker was created with this process, so
    what was dispatched before it died with an earlier one. RabbitMQ keeps durable
    queues and persistent messages across restarts; only a purge loses them, which the
    relay's redelivery window covers.
    """
    if isinstance(broker, RedisBroker):
        return RedisEpoch(broker.client)
    if isinstance(broker, StubBroker):
        created = utcnow()
        return lambda: created
    return lambda: None


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
