"""A running subscription's feed: one workspace's live events, deduplicated, bounded,
its caller checked again as it runs."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

from graphql import GraphQLError
from starlette.websockets import WebSocket

from backend.authz.access import Access, load_access
from backend.errors import ErrorCode
from backend.outbox.live import LiveEvent, LiveEvents
from backend.settings import Settings
from graphql_schema.authentication import refusal_for, subject_of
from graphql_schema.context import Context

# The socket of a subscriber that let this many events pile up is closed with this code
# (4000-4999 are the application's): reading again does not bring the missed ones back.
SLOW_CONSUMER_CLOSE = 4008
SLOW_CONSUMER_REASON = "Subscriber too slow: events were dropped"

# The workspace of what is watched, read with the caller's access; None if they cannot see it.
Find = Callable[[Context], Awaitable[UUID | None]]
Wanted = Callable[[LiveEvent], bool]


def not_found() -> GraphQLError:
    """Another tenant's id, an id you cannot see and no id at all read the same."""
    return GraphQLError("Not found.", extensions={"code": str(ErrorCode.NOT_FOUND)})


class TooManySubscriptions(GraphQLError):
    def __init__(self) -> None:
        super().__init__(
            "Too many subscriptions for this credential: complete some first.",
            extensions={"code": "SUBSCRIPTION_LIMIT"},
        )


class LiveFeed:
    """The process's live events and its count of subscriptions per credential."""

    def __init__(self, events: LiveEvents, settings: Settings) -> None:
        self.events = events
        self.per_credential = settings.subscriptions_per_credential
        self.queue_size = settings.subscription_queue_size
        self.recheck_seconds = settings.subscription_recheck_seconds
        self._running: Counter[UUID] = Counter()

    def claim(self, credential: UUID) -> bool:
        if self._running[credential] >= self.per_credential:
            return False
        self._running[credential] += 1
        return True

    def release(self, credential: UUID) -> None:
        self._running[credential] -= 1
        if self._running[credential] <= 0:
            del self._running[credential]


class Overflowed(Exception):
    """More events waited than the subscription may buffer."""


class EventQueue:
    """Events waiting for one subscriber: each once and in order, at most ``size``."""

    def __init__(self, size: int, wanted: Wanted) -> None:
        self.wanted = wanted
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(size)
        self._latest = 0  # the sequence of the newest event queued
        self.overflowed = asyncio.Event()

    def offer(self, event: LiveEvent) -> None:
        # A subscription watches one workspace, whose events are numbered in commit order:
        # the sequence names an event as its id does. One not newer than the last queued is
        # a second delivery (the relay delivers at least once) or a late resend of one sent
        # or from before the subscription: dropped, so each arrives once and in order.
        if event.sequence <= self._latest or not self.wanted(event):
            return
        self._latest = event.sequence
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed.set()

    async def take(self, within: float) -> list[LiveEvent]:
        """What waits (after waiting up to ``within`` seconds for something); raises
        Overflowed."""
        taken: list[LiveEvent] = []
        if self._queue.empty() and not self.overflowed.is_set():
            getter = asyncio.ensure_future(self._queue.get())
            overflow = asyncio.ensure_future(self.overflowed.wait())
            done, pending = await asyncio.wait(
                [getter, overflow], timeout=max(within, 0), return_when="FIRST_COMPLETED"
            )
            for waiter in pending:
                waiter.cancel()
            if getter in done:
                taken.append(getter.result())  # first: what came meanwhile is behind it
        if self.overflowed.is_set():
            raise Overflowed
        while not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken


def credential_of(access: Access) -> UUID:
    """What a per-credential limit counts by: the token, else the session, else the user."""
    return access.token_id or access.session_id or access.user_id


async def recheck(context: Context, find: Find, workspace_id: UUID) -> None:
    """The caller's credential and access read again; raises when either is gone."""
    subject = await subject_of(context)
    if subject is None:
        raise await refusal_for(context)
    await context.renew(await load_access(context.db, subject))
    if await find(context) != workspace_id:
        raise not_found()


async def watch(
    context: Context, find: Find, wanted: Wanted, *, every: float = 0.0
) -> AsyncIterator[list[LiveEvent]]:
    """The wanted events of the workspace ``find`` names, in batches at least ``every``
    seconds apart, while the caller may still see it. Ends with the error that ended it."""
    try:
        workspace_id = await find(context)  # as the query would: Unauthenticated if no one
        if workspace_id is None:
            raise not_found()
        async for batch in _listen(context, find, workspace_id, wanted, every):
            yield batch
    finally:
        await context.end_reads()  # no transaction stays open while it waits


async def _listen(
    context: Context, find: Find, workspace_id: UUID, wanted: Wanted, every: float
) -> AsyncIterator[list[LiveEvent]]:
    feed = context.live
    assert feed is not None, "subscriptions need the app's live feed"
    credential = credential_of(context.access)
    if not feed.claim(credential):
        raise TooManySubscriptions()
    queue = EventQueue(feed.queue_size, wanted)
    stop_listening = feed.events.listen(workspace_id, queue.offer)
    try:
        await context.end_reads()
        next_check = time.monotonic() + feed.recheck_seconds
        not_before = 0.0
        while True:
            try:
                batch = await queue.take(next_check - time.monotonic())
                if batch and time.monotonic() < not_before:
                    await asyncio.sleep(not_before - time.monotonic())
                    batch += await queue.take(0)
            except Overflowed:
                await _drop_slow(context)
                return
            if time.monotonic() >= next_check:
                await recheck(context, find, workspace_id)
                next_check = time.monotonic() + feed.recheck_seconds
            if batch:
                await context.renew(context.access)  # what the message reads is read now
                yield batch
                not_before = time.monotonic() + every
    finally:
        stop_listening()
        feed.release(credential)


async def _drop_slow(context: Context) -> None:
    websocket = context.request
    if isinstance(websocket, WebSocket):
        await websocket.close(code=SLOW_CONSUMER_CLOSE, reason=SLOW_CONSUMER_REASON)
