"""What /readyz checks: the database served as requests use it, and the broker reachable."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pika
import redis.asyncio

from backend.db.engine import Database, NotReadyError
from workers.broker import is_in_process, scheme_of

log = logging.getLogger("waypost.readiness")

# A probe must answer before the orchestrator's own timeout (often 1-5 s): a
# dependency slower than this counts as down.
CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"


@dataclass(frozen=True)
class Readiness:
    database: str
    broker: str

    @property
    def ready(self) -> bool:
        return self.database == OK and self.broker in (OK, "in process")


async def check_database(database: Database) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await database.prove_ready()
    except NotReadyError as error:
        return str(error)
    except Exception as error:  # unreachable, refused, timed out, denied: all "down"
        log.debug("database not ready: %r", error)
        return "unavailable"
    return OK


async def check_broker(url: str) -> str:
    if is_in_process(url):
        return "in process"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            if scheme_of(url) in ("amqp", "amqps"):
                await asyncio.to_thread(_amqp_handshake, url)
            else:
                await _redis_ping(url)
    except Exception as error:
        log.debug("broker not ready: %r", error)
        return "unavailable"
    return OK


async def _redis_ping(url: str) -> None:
    client = redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


def _amqp_handshake(url: str) -> None:
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = CHECK_TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = CHECK_TIMEOUT_SECONDS
    pika.BlockingConnection(parameters).close()


class ReadinessProbe:
    """Checks both, and logs one line when readiness changes (not one per probe)."""

    def __init__(self, database: Database, broker_url: str) -> None:
        self.database = database
        self.broker_url = broker_url
        self._last: Readiness | None = None

    async def check(self) -> Readiness:
        database, broker = await asyncio.gather(
            check_database(self.database), check_broker(self.broker_url)
        )
        readiness = Readiness(database=database, broker=broker)
        if self._last is not None and readiness != self._last:
            level = logging.INFO if readiness.ready else logging.WARNING
            log.log(level, "readiness: database %s, broker %s", database, broker)
        self._last = readiness
        return readiness
