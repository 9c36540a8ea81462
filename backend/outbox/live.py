"""Live events: each outbox event the relay sends, announced to every API process.

The relay only reads committed events, so nothing is announced before its change
committed, and nothing but the relay announces. Delivery is at least once (the relay
may send an event again): listeners drop what they already saw (the event's id, and
its sequence within its workspace, each name it).

With a Redis broker the announcement is published on ``waypost:live:<workspace id>``
and every API process listens to the pattern ``waypost:live:*``: one connection per
process whatever the number of workspaces its subscribers watch, while a channel per
workspace still lets an operator (``redis-cli subscribe``) watch one. With the
in-process broker (or RabbitMQ) it reaches this process's listeners only.
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

log = logging.getLogger("waypost.live")

CHANNEL_PREFIX = "waypost:live:"
# A Redis that does not answer must not hold up the relay's sending for long, and is
# not asked again for this long after it failed.
PUBLISH_TIMEOUT_SECONDS = 0.5
RETRY_SECONDS = 5.0

STOPPED = (
    "live events stopped: Redis is unreachable (%s: %s); subscribers in other processes "
    "miss events until it answers"
)
RESUMED = "live events resumed: Redis answers again, after %.0f s and %d failed attempts"


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


class LiveEvents:
    """This process's listeners by workspace, and the announcer the relay calls."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self._listeners: dict[UUID, set[Listener]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._publisher: redis.Redis | None = None
        if is_redis(broker_url):
            self._publisher = redis.Redis.from_url(
                broker_url,
                socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
            )
        self._down_until = 0.0
        self.outage = OutageLog(log, stopped=STOPPED, resumed=RESUMED)

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
        if self._publisher is None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self.deliver, live)
            return
        if time.monotonic() < self._down_until:
            return
        try:
            self._publisher.publish(CHANNEL_PREFIX + str(live.workspace_id), live.to_json())
        except Exception as error:
            self._down_until = time.monotonic() + RETRY_SECONDS
            self.outage.failed(error)
        else:
            self.outage.succeeded()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: on Redis, hand what any process announced to our listeners."""
        self._loop = asyncio.get_running_loop()
        if self._publisher is None:
            return
        while not stop.is_set():
            try:
                await self._listen_to_redis(stop)
            except Exception as error:
                self.outage.failed(error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)

    async def _listen_to_redis(self, stop: asyncio.Event) -> None:
        client = redis.asyncio.Redis.from_url(
            self.broker_url, socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS
        )
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                self.outage.succeeded()
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    try:
                        event = LiveEvent.from_json(message["data"])
                    except (ValueError, KeyError, TypeError):
                        log.warning("ignored a malformed live event on %s", message["channel"])
                        continue
                    self.deliver(event)
        finally:
            await client.aclose()

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
