"""Live events over RabbitMQ: a fanout exchange, and a queue of its own per listener.

One thread per process owns one pika connection (pika's connections are not
thread-safe): it publishes what the relay hands it, with publisher confirms, and, once
the process listens, consumes the process's own queue. The relay waits at most half a
second for an announcement's confirm (it announces under its workspace's lock, so the
workspace's announcements keep their order) and not at all while RabbitMQ is down (the
announcement waits in a bounded backlog); heartbeats keep an idle connection known to be
alive, and a lost connection is made again every ``retry_seconds``.

A listening process's queue is named by the broker, exclusive to its connection (gone
with it) and holds at most ``max_backlog`` unread messages, the oldest dropped first;
what the thread took from it waits for the event loop in a bounded buffer too. A slow
process loses old announcements, never the broker's memory or its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions

from backend.outage import OutageLog

log = logging.getLogger("waypost.live")

HEARTBEAT_SECONDS = 10  # a dead broker is noticed within about two of these
CONNECT_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.05  # the thread's turn between its consumer and its backlog
CONFIRM_SECONDS = 0.5  # how long the relay waits for an announcement's confirm at most


class _Quiet(logging.Filter):
    """pika logs each failed connection attempt several times over, at ERROR; on this
    thread the outage log says it once per outage, with the error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not threading.current_thread().name.startswith("waypost-live")


_QUIET = _Quiet()
# Filters are not inherited by child loggers: each one that logs a failed connection.
for _logger in (
    "pika.adapters.base_connection",
    "pika.adapters.blocking_connection",
    "pika.adapters.utils.connection_workflow",
    "pika.adapters.utils.io_services_utils",
):
    logging.getLogger(_logger).addFilter(_QUIET)


class AmqpFanout:
    """This process's side of one fanout exchange: what it publishes and, once it
    listens, what every process published."""

    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        outage: OutageLog,
        max_backlog: int,
        retry_seconds: float,
    ) -> None:
        self.url = url
        self.exchange = exchange
        self.outage = outage
        self.max_backlog = max_backlog
        self.retry_seconds = retry_seconds
        self._outgoing: deque[tuple[str, str, threading.Event]] = deque(maxlen=max_backlog)
        self._connection: pika.BlockingConnection | None = None  # the thread's, to wake it
        self._incoming: deque[bytes] = deque(maxlen=max_backlog)
        self._closing = threading.Event()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        # Set while the process listens: where the event loop takes what was heard.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heard: Callable[[bytes], None] | None = None
        self._connected: Callable[[bool, BaseException | None], None] | None = None
        self._draining = False
        self._cancelled = False

    # -- from the relay's threads ------------------------------------------------------

    def publish(self, routing_key: str, body: str) -> None:
        """Hand an announcement to the thread and wait, at most ``confirm_seconds``, for
        the broker to confirm it: the relay announces under its workspace's lock, so
        announcements reach the exchange in the workspace's order (subscribers drop an
        event older than one they already have). Never raises; while RabbitMQ is down it
        does not wait at all, and past ``max_backlog`` unsent the oldest go."""
        sent = threading.Event()
        self._outgoing.append((routing_key, body, sent))
        self._start()
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):  # closing: the next connection sends it
                connection.add_callback_threadsafe(_nothing)  # wakes the thread now
        if not self.outage.is_down:
            sent.wait(CONFIRM_SECONDS)

    # -- on the event loop -------------------------------------------------------------

    async def listen(
        self,
        stop: asyncio.Event,
        heard: Callable[[bytes], None],
        connected: Callable[[bool, BaseException | None], None],
    ) -> None:
        """Until ``stop``: every message on the exchange to ``heard``, and whether the
        queue is being consumed to ``connected`` (True each time it is, again)."""
        self._loop, self._heard, self._connected = asyncio.get_running_loop(), heard, connected
        self._draining = False
        self._start()
        try:
            await stop.wait()
        finally:
            self._heard = self._connected = None

    def close(self) -> None:
        """Stop the thread: it sends what is left (best effort) and closes its
        connection; waited for a second at most."""
        self._closing.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)

    # -- the thread --------------------------------------------------------------------

    def _start(self) -> None:
        with self._starting:
            if self._thread is None and not self._closing.is_set():
                self._thread = threading.Thread(
                    target=self._run, name=f"waypost-live-{self.exchange}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                self._connected_run()
            except Exception as error:
                self._tell_connected(False, error)
                self.outage.failed(error)
                self._closing.wait(self.retry_seconds)
            finally:
                self._connection = None

    def _parameters(self) -> pika.URLParameters:
        parameters = pika.URLParameters(self.url)
        parameters.heartbeat = HEARTBEAT_SECONDS
        parameters.socket_timeout = CONNECT_TIMEOUT_SECONDS
        parameters.stack_timeout = CONNECT_TIMEOUT_SECONDS
        parameters.blocked_connection_timeout = CONNECT_TIMEOUT_SECONDS
        parameters.connection_attempts = 1
        return parameters

    def _connected_run(self) -> None:
        connection = pika.BlockingConnection(self._parameters())
        try:
            publishing = connection.channel()
            publishing.confirm_delivery()  # each publish returns once the broker has it
            publishing.exchange_declare(self.exchange, exchange_type="fanout", durable=False)
            self._connection = connection
            self.outage.succeeded()
            consuming: Any = None  # the consuming channel, once listening
            retry_consuming_at = 0.0
            self._cancelled = False
            while not self._closing.is_set():
                self._send_backlog(publishing)
                if consuming is not None and (self._cancelled or not consuming.is_open):
                    # The queue or its channel went (an operator, a policy): consumed
                    # again on a fresh channel; publishing goes on meanwhile.
                    self._tell_connected(False, ConnectionError("the consumer was cancelled"))
                    consuming, self._cancelled = None, False
                    retry_consuming_at = time.monotonic() + self.retry_seconds
                if (
                    consuming is None
                    and self._heard is not None
                    and time.monotonic() >= retry_consuming_at
                ):
                    try:
                        consuming = self._consume(connection)
                    except pika.exceptions.AMQPChannelError as error:
                        self._tell_connected(False, error)
                        retry_consuming_at = time.monotonic() + self.retry_seconds
                    else:
                        self._tell_connected(True)
                connection.process_data_events(time_limit=POLL_SECONDS)
            self._send_backlog(publishing)  # closing: what the relay handed over last
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def _consume(self, connection: pika.BlockingConnection) -> Any:
        channel = connection.channel()
        declared = channel.queue_declare(
            "",  # named by the broker, for this connection alone
            exclusive=True,
            auto_delete=True,
            arguments={"x-max-length": self.max_backlog, "x-overflow": "drop-head"},
        )
        queue = declared.method.queue
        channel.queue_bind(queue, self.exchange)
        channel.basic_consume(queue, self._on_message, auto_ack=True)
        # The broker cancels a consumer whose queue went (an operator deleted it): this
        # connection is then made again, and the queue with it.
        channel.add_on_cancel_callback(self._on_cancelled)
        return channel

    def _on_cancelled(self, _frame: Any) -> None:
        self._cancelled = True

    def _send_backlog(self, channel: Any) -> None:
        while self._outgoing:
            routing_key, body, sent = self._outgoing.popleft()
            try:
                channel.basic_publish(
                    self.exchange,
                    routing_key,
                    body,
                    pika.BasicProperties(content_type="application/json", delivery_mode=1),
                )
            except BaseException:
                if len(self._outgoing) < self.max_backlog:  # else it is the oldest: it goes
                    self._outgoing.appendleft((routing_key, body, sent))
                raise
            sent.set()

    def _on_message(self, _channel: Any, _method: Any, _properties: Any, body: bytes) -> None:
        self._incoming.append(body)
        loop = self._loop
        if not self._draining and loop is not None and not loop.is_closed():
            self._draining = True  # one wake-up for however many arrive meanwhile
            with contextlib.suppress(RuntimeError):  # the loop closed just now
                loop.call_soon_threadsafe(self._drain)

    def _tell_connected(self, connected: bool, error: BaseException | None = None) -> None:
        loop, tell = self._loop, self._connected
        if loop is not None and tell is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(tell, connected, error)

    # -- back on the event loop --------------------------------------------------------

    def _drain(self) -> None:
        self._draining = False
        heard = self._heard
        while self._incoming:
            body = self._incoming.popleft()
            if heard is not None:
                try:
                    heard(body)
                except Exception:  # one bad message must not hold up the others
                    log.exception("a live event could not be handed on")


def _nothing() -> None:
    """What wakes the thread's connection: it then sends the backlog at once."""
