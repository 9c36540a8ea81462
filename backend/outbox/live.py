"""Live events: each outbox event the relay sends, announced to every API process.

The relay only reads committed events, so nothing is announced before its change
committed, and nothing but the relay announces. Delivery is at least once (the relay
may send an event again): listeners drop what they already saw (the event's id, and
its sequence within its workspace, each name it).

The relay of any process may send a workspace's event (every API process and
``waypost worker`` run one), so the announcement goes through the broker to every API
process:

* on Redis it is published on ``waypost:live:<workspace id>`` and every API process
  listens to the pattern ``waypost:live:*``: one connection per process whatever the
  number of workspaces its subscribers watch, while a channel per workspace still lets
  an operator (``redis-cli subscribe``) watch one;
* on RabbitMQ it is published to the fanout exchange ``waypost.live`` (routing key: the
  workspace id) and every API process consumes it through a queue of its own, exclusive
  to its connection (gone with it) and bounded: a process that stops reading loses the
  oldest announcements, never the broker's memory;
* with the in-process broker it reaches this process's listeners only (there is no
  other process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import redis
import redis.asyncio

from backend.models.outbox import OutboxEvent
from backend.outage import OutageLog
from backend.outbox.live_amqp import AmqpFanout

log = logging.getLogger("waypost.live")

CHANNEL_PREFIX = "waypost:live:"  # Redis: a channel per workspace
EXCHANGE = "waypost.live"  # RabbitMQ: one fanout exchange, a queue per API process
# A process's queue keeps at most this many announcements it has not read yet; past it,
# the oldest go (subscribers that slow re-read what they show on their next event).
QUEUE_MAX_LENGTH = 10_000
# A Redis that does not answer must not hold up the relay's sending for long (RabbitMQ
# never does: its thread publishes), and is not asked again for this long after it failed.
PUBLISH_TIMEOUT_SECONDS = 0.5
RETRY_SECONDS = 5.0

STOPPED = (
    "live events stopped: the broker is unreachable (%s: %s); subscribers in other "
    "processes miss events until it answers"
)
RESUMED = "live events resumed: the broker answers again, after %.0f s and %d failed attempts"
LISTEN_STOPPED = (
    "live events unheard: listening to the broker failed (%s: %s); this process's "
    "subscribers miss other processes' events until it listens again"
)
LISTEN_RESUMED = "live events heard again, after %.0f s and %d failed attempts"


@dataclass(frozen=True)
class LiveEvent:
    id: UUID
    workspace_id: UUID
    sequence: int
    type: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: OutboxEvent) -> LiveEvent:
        return cls(event.id, event.workspace_id, event.sequence, event.event_type, event.payload)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": str(self.id),
                "workspace_id": str(self.workspace_id),
                "sequence": self.sequence,
                "type": self.type,
                "payload": self.payload,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> LiveEvent:
        data = json.loads(raw)
        return cls(
            UUID(data["id"]),
            UUID(data["workspace_id"]),
            int(data["sequence"]),
            str(data["type"]),
            dict(data["payload"]),
        )


Listener = Callable[[LiveEvent], None]


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://"))


def _heard(raw: str | bytes, where: str) -> LiveEvent | None:
    try:
        return LiveEvent.from_json(raw)
    except Exception:  # whatever a malformed message makes the parsing raise
        log.warning("ignored a malformed live event on %s", where)
        return None


class _Redis:
    def __init__(self, url: str) -> None:
        self.url = url
        self._publisher = redis.Redis.from_url(
            url,
            socket_timeout=PUBLISH_TIMEOUT_SECONDS,
            socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
        )

    def publish(self, event: LiveEvent) -> None:
        self._publisher.publish(CHANNEL_PREFIX + str(event.workspace_id), event.to_json())

    async def listen(self, stop: asyncio.Event, heard: Callable[[LiveEvent | None], None]) -> None:
        client = redis.asyncio.Redis.from_url(
            self.url, socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS
        )
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                heard(None)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    event = _heard(message["data"], str(message["channel"]))
                    if event is not None:
                        heard(event)
        finally:
            await client.aclose()

    def close(self) -> None:
        self._publisher.close()


class LiveEvents:
    """This process's listeners by workspace, and the announcer the relay calls."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self._listeners: dict[UUID, set[Listener]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._down_until = 0.0
        # Announcing and listening fail and recover apart: one outage log each.
        self.outage = OutageLog(log, stopped=STOPPED, resumed=RESUMED)
        self.listen_outage = OutageLog(log, stopped=LISTEN_STOPPED, resumed=LISTEN_RESUMED)
        self.listening = False  # whether other processes' announcements reach us now
        self._redis = _Redis(broker_url) if is_redis(broker_url) else None
        self._fanout = (
            AmqpFanout(
                broker_url,
                EXCHANGE,
                outage=self.outage,
                max_backlog=QUEUE_MAX_LENGTH,
                retry_seconds=RETRY_SECONDS,
            )
            if is_amqp(broker_url)
            else None
        )

    def listen(self, workspace_id: UUID, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` (on this event loop) with the workspace's events; returns the
        call that stops it."""
        self._loop = asyncio.get_running_loop()
        self._listeners[workspace_id].add(listener)

        def stop() -> None:
            listeners = self._listeners.get(workspace_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[workspace_id]

        return stop

    def deliver(self, event: LiveEvent) -> None:
        """Hand ``event`` to this process's listeners (on the event loop)."""
        for listener in list(self._listeners.get(event.workspace_id, ())):
            try:
                listener(event)
            except Exception:  # one broken listener must not starve the others
                log.exception("a live event listener failed")

    def announce(self, event: OutboxEvent) -> None:
        """Called by the relay, from its thread, once the event went to the broker. Never
        raises: announcing is a courtesy to subscribers, sending is the relay's job."""
        live = LiveEvent.of(event)
        if (self._redis is None and self._fanout is None) or not self.listening:
            # Our own subscribers hear it at once when nothing else would bring it back
            # to them (they drop the second delivery when the broker's comes too).
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self.deliver, live)
        if self._fanout is not None:
            self._fanout.publish(str(live.workspace_id), live.to_json())  # never waits
        elif self._redis is not None and time.monotonic() >= self._down_until:
            try:
                self._redis.publish(live)
            except Exception as error:
                self._down_until = time.monotonic() + RETRY_SECONDS
                self.outage.failed(error)
            else:
                self.outage.succeeded()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: hand what any process announced to our listeners."""
        self._loop = asyncio.get_running_loop()
        if self._fanout is not None:
            try:
                await self._fanout.listen(stop, self._heard_text, self._connected)
            finally:
                self.listening = False
            return
        if self._redis is None:
            return
        while not stop.is_set():
            try:
                await self._redis.listen(stop, self._heard)
            except Exception as error:
                self._connected(False, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
        self.listening = False

    def _connected(self, connected: bool, error: BaseException | None = None) -> None:
        self.listening = connected
        if connected:
            self.listen_outage.succeeded()
        else:
            self.listen_outage.failed(error or ConnectionError("the broker connection was lost"))

    def _heard(self, event: LiveEvent | None) -> None:
        if event is None:  # listening (again)
            self._connected(True)
        else:
            self.deliver(event)

    def _heard_text(self, body: bytes) -> None:
        event = _heard(body, EXCHANGE)
        if event is not None:
            self.deliver(event)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        if self._fanout is not None:
            self._fanout.close()
