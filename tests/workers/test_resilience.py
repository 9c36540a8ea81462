"""Background work survives failures.

* A broker outage: writes still succeed, their events wait in the outbox, and are
  processed once the broker is back (Redis and RabbitMQ, always, behind a TCP proxy
  that takes them "down").
* A worker killed mid-task (SIGKILL) loses nothing: the outbox redelivers, and the
  event is handled once by the survivor.
* Exhausted retries land in the dead-letter table, and a replay processes them once.
* Several relays at once dispatch every event, in order per workspace.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import dramatiq
import pytest
import pytest_asyncio
import redis.exceptions
from dramatiq.common import compute_backoff
from dramatiq.errors import BrokerConnectionError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import workers.actors
import workers.replay
from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models.outbox import DeadLetter, OutboxEvent
from backend.outbox.dispatch import subscribe
from backend.outbox.emit import emit
from backend.outbox.relay import DEFAULT_REDELIVER_AFTER, OutboxRelay
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.databases import (
    TestDatabase,
    configured_broker_url,
    is_postgres_run,
    real_broker_url,
    unreachable,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.proxy import TcpProxy
from tests.fixtures.tenants import Tenant
from workers.background import Background
from workers.broker import is_in_process, scheme_of
from workers.replay import replay_dead_letters

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_ROLE = "waypost_app"
# Where the outage tests find each broker when the run is not configured for it.
DEFAULT_BROKERS = {kind: real_broker_url(kind) for kind in ("redis", "amqp")}
# What a client sees while the broker is away: redis-py's error, or dramatiq's for pika.
BROKER_DOWN = (redis.exceptions.ConnectionError, BrokerConnectionError)

ADD_MEMBER = """mutation($ws: ID!, $email: String!) { addWorkspaceMember(input: {
  workspaceId: $ws, email: $email, role: VIEWER}) { errors { code } } }"""

DEAD_LETTERS = """query($ws: ID!) { workspace(id: $ws) { deadLetters { edges { node {
  actor queue args kwargs error retries replayedAt } } } } }"""


# -- reading the outbox and the dead letters -------------------------------------------


def _bound(workspace: UUID) -> TenantBinding:
    return TenantBinding(frozenset({workspace}))


async def _emit(database: Database, workspace: UUID, event_type: str, payload: Any) -> UUID:
    async with database.transaction(_bound(workspace), write=True) as session:
        bind_actor(session, Actor.system())
        event = await emit(session, workspace, event_type, payload)
    return event.id


async def _events(database: Database, workspace: UUID) -> list[OutboxEvent]:
    async with database.transaction(_bound(workspace)) as session:
        statement = (
            select(OutboxEvent)
            .where(OutboxEvent.workspace_id == workspace)
            .order_by(OutboxEvent.sequence)
        )
        return list((await session.scalars(statement)).all())


async def _event(database: Database, workspace: UUID, event_id: UUID) -> OutboxEvent:
    [event] = [e for e in await _events(database, workspace) if e.id == event_id]
    return event


async def _dead_letters(database: Database, workspace: UUID) -> list[DeadLetter]:
    async with database.transaction(_bound(workspace)) as session:
        statement = select(DeadLetter).where(DeadLetter.workspace_id == workspace)
        return list((await session.scalars(statement.order_by(DeadLetter.failed_at))).all())


def _unique(prefix: str) -> str:
    """An event type of this test alone: handlers subscribe process-wide, for good."""
    return f"{prefix}.{uuid4().hex[:10]}"


# -- real services -----------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerServer:
    """A real broker server, and how to reach it through a proxy on another port."""

    name: str
    url: str

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        default = 6379 if parts.scheme.startswith("redis") else 5672
        return parts.hostname or "127.0.0.1", parts.port or default

    def through(self, port: int) -> str:
        """The same URL (credentials, database or vhost), at the proxy's port on loopback."""
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def require(self) -> None:
        """Fail under CI, skip elsewhere, when the real server does not answer."""
        try:
            socket.create_connection(self.address, timeout=3).close()
        except OSError as error:
            unreachable(self.name, error)


def broker_server(kind: str) -> BrokerServer:
    """The configured broker when it is of this kind, else the local default one."""
    configured = configured_broker_url()
    url = configured if scheme_of(configured).startswith(kind) else DEFAULT_BROKERS[kind]
    return BrokerServer("Redis" if kind == "redis" else "RabbitMQ", url)


def require_configured_broker() -> str:
    url = configured_broker_url()
    if not is_in_process(url):
        broker_server("redis" if scheme_of(url).startswith("redis") else "amqp").require()
    return url


# -- the `waypost` command in a process of its own ------------------------------------------


def _command_env(test_database: TestDatabase, broker_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}
    env.update(
        WAYPOST_ENV="test",
        WAYPOST_DATABASE_URL=test_database.app_url,
        WAYPOST_DATABASE_APP_ROLE=APP_ROLE,
        WAYPOST_BROKER_URL=broker_url,
    )
    return env


async def _waypost(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from backend.entrypoints.cli import main; main()", *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- 1. broker outage ------------------------------------------------------------------------


@asynccontextmanager
async def _workers_through(
    proxy: TcpProxy, settings: Settings, database: Database
) -> AsyncIterator[Background]:
    async with Background(settings, database, run_workers=True) as background:
        try:
            yield background
        finally:
            proxy.up()  # stop the workers against a live broker, whatever happened


async def _relay_pass_fails(relay: OutboxRelay, *, within: float = 10.0) -> BaseException:
    """Run relay passes until one tries the broker and fails; none may claim a send.

    A pass can also find its workspace taken by the background's own relay (it then
    sends nothing): try again until this one is the relay that meets the outage.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            sent = await relay.relay_once()
        except BROKER_DOWN as error:
            return error
        assert sent == 0, f"the relay says it sent {sent} events with the broker down"
        if time.monotonic() > deadline:
            raise AssertionError("no relay pass reached the broker")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", ["redis", "amqp"])
async def test_with_the_broker_down_writes_succeed_and_their_events_wait_for_it(
    kind: str, settings: Settings, database: Database, gql: GraphQLClient, tenant_a: Tenant
) -> None:
    server = broker_server(kind)
    server.require()
    with TcpProxy(*server.address) as proxy:
        worker_settings = settings.model_copy(
            update={
                "broker_url": server.through(proxy.port),
                "outbox_redeliver_after_seconds": 600,
            }
        )
        async with _workers_through(proxy, worker_settings, database) as background:

            async def connected() -> int:
                return proxy.accepted

            await eventually(connected, within=10)  # the workers talk through the proxy
            proxy.down()
            connections_before_outage = proxy.accepted

            for n, workspace in enumerate(tenant_a.workspace_ids):
                body = await gql(
                    ADD_MEMBER,
                    {"ws": tenant_a.ws_gid(n), "email": f"outage-{n}@x.io"},
                    token=tenant_a.token,
                )
                assert body["data"]["addWorkspaceMember"]["errors"] == [], workspace

            await _relay_pass_fails(background.relay)
            waiting = [e for ws in tenant_a.workspace_ids for e in await _events(database, ws)]
            assert len(waiting) == len(tenant_a.workspace_ids)
            assert all(e.event_type == "workspace_member.changed" for e in waiting)
            # Failed passes neither lose an event nor count it as dispatched.
            assert [(e.processed_at, e.dispatched_at, e.dispatch_count) for e in waiting] == [
                (None, None, 0)
            ] * len(waiting)

            proxy.up()
            await background.relay.relay_once()  # 0 if the background's relay got there first

            async def processed() -> list[OutboxEvent]:
                events = [e for ws in tenant_a.workspace_ids for e in await _events(database, ws)]
                return events if all(e.processed_at for e in events) else []

            done = await eventually(processed, within=20)
            assert sorted(e.id for e in done) == sorted(e.id for e in waiting)
            # One successful dispatch each, after the outage, over a new connection.
            assert [e.dispatch_count for e in done] == [1] * len(done)
            assert proxy.accepted > connections_before_outage


# -- 2. a worker killed mid-task ----------------------------------------------------------


@contextmanager
def _slow_worker(
    test_database: TestDatabase, broker_url: str, event_type: str, marker: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = _command_env(test_database, broker_url)
    env.update(SLOW_WORKER_EVENT_TYPE=event_type, SLOW_WORKER_MARKER=str(marker))
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.slow_worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_a_worker_killed_mid_task_loses_nothing(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    test_database: TestDatabase,
    tmp_path: Path,
) -> None:
    broker_url = require_configured_broker()
    workspace = tenant_a.workspace_ids[0]
    event_type = _unique("test.killed")
    marker, log = tmp_path / "started.json", tmp_path / "worker.log"

    with _slow_worker(test_database, broker_url, event_type, marker, log) as process:
        event_id = await _emit(database, workspace, event_type, {"work": "long"})

        async def started() -> dict[str, Any] | None:
            if process.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{log.read_text()}")
            return json.loads(marker.read_text()) if marker.exists() else None

        seen = await eventually(started, within=30)
        assert seen == {"pid": process.pid, "event_id": str(event_id)}
        in_flight = await _event(database, workspace, event_id)
        assert in_flight.processed_at is None
        # Dispatched by the worker's own relay: marked so (1), unless on Postgres the
        # handler locked the row before that relay's mark could commit (0).
        assert in_flight.dispatch_count in (0, 1)

        process.kill()  # SIGKILL: no cleanup, no ack, its transaction never commits
        assert await asyncio.to_thread(process.wait, 10) == -signal.SIGKILL

    assert not marker.with_suffix(".finished").exists()
    assert (await _event(database, workspace, event_id)).processed_at is None

    handled: list[UUID] = []

    async def quick(_session: AsyncSession, event: OutboxEvent) -> None:
        handled.append(event.id)

    subscribe(event_type, quick)
    survivor_settings = settings.model_copy(
        update={"broker_url": broker_url, "outbox_redeliver_after_seconds": 1}
    )
    async with Background(survivor_settings, database, run_workers=True):

        async def processed() -> OutboxEvent | None:
            event = await _event(database, workspace, event_id)
            return event if event.processed_at is not None else None

        await eventually(processed, within=20)
        # Room for any second delivery (a redelivery, RabbitMQ's requeue of the dead
        # worker's unacked message) to arrive and be absorbed.
        await asyncio.sleep(2.5)

    assert handled == [event_id]
    survived = await _event(database, workspace, event_id)
    assert survived.processed_at is not None
    if scheme_of(broker_url) != "amqp":
        # The dead worker's message died with it (memory://) or sits unacked in its
        # Redis ack set for a minute: the outbox's redelivery is what saved the event.
        assert survived.dispatch_count > in_flight.dispatch_count


# -- 3. dead letters -----------------------------------------------------------------------

MAX_RETRIES = 1


@asynccontextmanager
async def _impatient_workers(
    settings: Settings,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    *,
    redeliver_after: float = 600,
) -> AsyncIterator[Background]:
    """Workers on the configured broker whose actors give up after one quick retry."""
    broker_url = require_configured_broker()
    monkeypatch.setattr(
        workers.actors,
        "RETRIES",
        {"max_retries": MAX_RETRIES, "min_backoff": 10, "max_backoff": 20},
    )
    worker_settings = settings.model_copy(
        update={"broker_url": broker_url, "outbox_redeliver_after_seconds": redeliver_after}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def impatient_background(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Background]:
    async with _impatient_workers(settings, database, monkeypatch) as running:
        yield running


@dataclass
class Doomed:
    """An event type whose handler fails until ``heal()``; every run of it is recorded."""

    event_type: str
    runs: list[UUID]
    healed: threading.Event

    async def handle(self, _session: AsyncSession, event: OutboxEvent) -> None:
        self.runs.append(event.id)
        if not self.healed.is_set():
            raise RuntimeError(f"handler exploded on {event.id}")

    @classmethod
    def subscribed(cls) -> Doomed:
        doomed = cls(_unique("test.doomed"), [], threading.Event())
        subscribe(doomed.event_type, doomed.handle)
        return doomed


async def _retries_run_out(database: Database, workspace: UUID, doomed: Doomed) -> UUID:
    """Emit a doomed event; return once its first try and every retry have failed."""
    event_id = await _emit(database, workspace, doomed.event_type, {"doomed": True})

    async def exhausted() -> bool:
        return len(doomed.runs) >= MAX_RETRIES + 1

    await eventually(exhausted, within=20)
    return event_id


async def _stored_dead_letter(database: Database, workspace: UUID) -> DeadLetter:
    """The workspace's one dead letter; it is written right after the last failed try."""

    async def stored() -> list[DeadLetter]:
        return await _dead_letters(database, workspace)

    [letter] = await eventually(stored, within=5)
    return letter


async def test_exhausted_retries_land_in_the_dead_letter_table(
    impatient_background: Background,
    database: Database,
    tenant_a: Tenant,
    gql: GraphQLClient,
) -> None:
    workspace, other = tenant_a.workspace_ids[:2]
    doomed = Doomed.subscribed()
    event_id = await _retries_run_out(database, workspace, doomed)
    assert doomed.runs == [event_id] * (MAX_RETRIES + 1)  # the first try and each retry

    letter = await _stored_dead_letter(database, workspace)
    assert letter.workspace_id == workspace
    assert letter.actor == "outbox.dispatch"
    assert letter.queue == "outbox"
    assert letter.args == [str(workspace), str(event_id)]
    assert letter.kwargs == {}
    assert letter.error == f"RuntimeError: handler exploded on {event_id}"
    assert letter.retries >= MAX_RETRIES  # exactly: see the next test
    assert letter.replayed_at is None
    assert await _dead_letters(database, other) == []
    stuck = await _event(database, workspace, event_id)
    assert stuck.processed_at is None
    assert stuck.dispatch_count == 1  # not redelivered behind the dead letter's back
    # Visible to the workspace's admins.
    body = await gql(DEAD_LETTERS, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    [edge] = body["data"]["workspace"]["deadLetters"]["edges"]
    assert edge["node"]["actor"] == "outbox.dispatch"
    assert edge["node"]["args"] == [str(workspace), str(event_id)]
    assert edge["node"]["error"] == letter.error
    assert edge["node"]["replayedAt"] is None


async def test_a_dead_letter_counts_the_retries_it_was_given(
    impatient_background: Background, database: Database, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[0]
    doomed = Doomed.subscribed()
    await _retries_run_out(database, workspace, doomed)
    letter = await _stored_dead_letter(database, workspace)
    assert len(doomed.runs) == MAX_RETRIES + 1
    assert letter.retries == MAX_RETRIES


async def test_a_dead_lettered_event_is_not_sent_again_until_replayed(
    settings: Settings,
    database: Database,
    test_database: TestDatabase,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace = tenant_a.workspace_ids[0]
    doomed = Doomed.subscribed()
    # The relay resends what is not processed within 2 s; retries run out well before.
    async with _impatient_workers(settings, database, monkeypatch, redeliver_after=2) as running:
        event_id = await _retries_run_out(database, workspace, doomed)
        letter = await _stored_dead_letter(database, workspace)
        await asyncio.sleep(5)  # two redelivery windows, a relay pass every second
        assert doomed.runs == [event_id] * (MAX_RETRIES + 1)
        assert [d.id for d in await _dead_letters(database, workspace)] == [letter.id]
        dead = await _event(database, workspace, event_id)
        assert (dead.dispatch_count, dead.processed_at) == (1, None)
        assert dead.dead_lettered_at is not None

        # Replayed, it is the relay's again: handled once, never dead again.
        doomed.healed.set()
        assert await _replay(running, database, test_database, workspace, monkeypatch) == 1

        async def processed() -> OutboxEvent | None:
            event = await _event(database, workspace, event_id)
            return event if event.processed_at is not None else None

        done = await eventually(processed, within=20)
        assert (done.dead_lettered_at, done.dispatch_count) == (None, 2)
        await asyncio.sleep(3)  # a resend by mistake would have run by now
        assert doomed.runs == [event_id] * (MAX_RETRIES + 2)


def test_the_relay_waits_longer_than_a_whole_retry_schedule() -> None:
    """A message still being retried is not lost: resending it would start a second round."""
    retries = workers.actors.RETRIES
    longest = sum(
        compute_backoff(
            attempt, factor=retries["min_backoff"], jitter=False, max_backoff=retries["max_backoff"]
        )[1]
        for attempt in range(1, retries["max_retries"] + 1)
    )
    assert Settings.model_fields["outbox_redeliver_after_seconds"].default * 1000 > longest
    assert DEFAULT_REDELIVER_AFTER.total_seconds() * 1000 > longest


@pytest_asyncio.fixture(loop_scope="session")
async def background(settings: Settings, database: Database) -> AsyncIterator[Background]:
    """Workers on the configured broker, as `waypost worker` (or `serve`) runs them."""
    worker_settings = settings.model_copy(
        update={"broker_url": require_configured_broker(), "outbox_redeliver_after_seconds": 600}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        yield running


async def _dead_after_retries(
    database: Database, workspace: UUID, event_type: str
) -> tuple[UUID, UUID]:
    """An event its relay sent and whose every try failed, with the letter left of it.

    Written as the relay and the DeadLetters middleware leave them, which is quicker
    than a real failure (test_a_dead_lettered_event_is_not_sent_again_until_replayed
    goes through one): the event dispatched, not processed and dead-lettered; the
    letter as ``_store`` writes it.
    """
    async with database.transaction(_bound(workspace), write=True) as session:
        bind_actor(session, Actor.system())
        event = await emit(session, workspace, event_type, {"doomed": True})
        event.dispatched_at = event.dead_lettered_at = utcnow()
        event.dispatch_count = 1
        await session.flush()
        letter = DeadLetter(
            workspace_id=workspace,
            actor="outbox.dispatch",
            queue="outbox",
            message_id=uuid4().hex,
            args=[str(workspace), str(event.id)],
            kwargs={},
            error=f"RuntimeError: handler exploded on {event.id}",
            retries=MAX_RETRIES,
        )
        session.add(letter)
        await session.flush()
        return event.id, letter.id


class _Borrowed:
    """The running background's broker, lent to replay_dead_letters (which closes it)."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.get_actor = broker.get_actor

    def close(self) -> None:
        pass


async def _replay(
    background: Background,
    database: Database,
    test_database: TestDatabase,
    workspace: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> int:
    """Replay a workspace's dead letters as an admin would: `waypost dead-letters replay`."""
    broker_url = background.settings.broker_url
    if is_in_process(broker_url):
        # The in-process broker exists only inside the process running its workers: the
        # CLI refuses it (tested below), and a fresh one would have no workers. Replay
        # through the running one.
        monkeypatch.setattr(
            workers.replay,
            "create_broker",
            lambda _settings: (_Borrowed(background.broker), background.actors),
        )
        return await replay_dead_letters(background.settings, database, workspace_id=workspace)
    result = await _waypost(
        ["dead-letters", "replay", "--workspace", str(workspace)],
        _command_env(test_database, broker_url),
    )
    assert result.returncode == 0, result.stderr
    [count] = [int(word) for word in result.stdout.split() if word.isdigit()]
    assert result.stdout.strip() == f"replayed {count} dead letters"
    return count


async def test_a_replayed_dead_letter_is_processed_once(
    background: Background,
    database: Database,
    test_database: TestDatabase,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace, other = tenant_a.workspace_ids[:2]
    doomed = Doomed.subscribed()
    event_id, letter_id = await _dead_after_retries(database, workspace, doomed.event_type)
    _other_event, other_letter = await _dead_after_retries(database, other, doomed.event_type)
    await asyncio.sleep(0.5)
    assert doomed.runs == []  # nothing delivers it but a replay
    doomed.healed.set()

    assert await _replay(background, database, test_database, workspace, monkeypatch) == 1

    async def processed() -> OutboxEvent | None:
        event = await _event(database, workspace, event_id)
        return event if event.processed_at is not None else None

    await eventually(processed, within=20)
    [letter] = await _dead_letters(database, workspace)
    assert letter.id == letter_id
    assert letter.replayed_at is not None

    assert await _replay(background, database, test_database, workspace, monkeypatch) == 0
    await asyncio.sleep(1)  # anything sent by mistake would have run by now
    assert doomed.runs == [event_id]
    assert [d.replayed_at for d in await _dead_letters(database, workspace)] == [letter.replayed_at]
    # Another workspace's letters wait for their own replay.
    [untouched] = await _dead_letters(database, other)
    assert untouched.id == other_letter
    assert untouched.replayed_at is None


async def test_replay_refuses_the_in_process_broker_and_leaves_the_letters_alone(
    database: Database, test_database: TestDatabase, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[0]
    event_id, _letter_id = await _dead_after_retries(database, workspace, _unique("test.kept"))
    result = await _waypost(
        ["dead-letters", "replay", "--workspace", str(workspace)],
        _command_env(test_database, "memory://"),
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert (
        "error: replay needs a shared broker (redis:// or amqp://), not the in-process one"
        in result.stderr
    )
    assert "replayed" not in result.stdout
    [letter] = await _dead_letters(database, workspace)
    assert letter.replayed_at is None
    assert (await _event(database, workspace, event_id)).processed_at is None


# -- 4. several relays at once ------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def second_database(test_database: TestDatabase) -> AsyncIterator[Database]:
    """Another engine on the same database, as another process's relay would have."""
    db = Database(test_database.app_url, app_role=APP_ROLE if test_database.is_postgres else None)
    yield db
    await db.dispose()


async def test_several_relays_at_once_dispatch_every_event_in_order_per_workspace(
    database: Database, second_database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    workspaces = [*tenant_a.workspace_ids, *tenant_b.workspace_ids]
    sent: list[tuple[UUID, int, UUID]] = []
    sent_lock = threading.Lock()

    def record(event: OutboxEvent) -> None:  # runs on a worker thread, like a broker send
        with sent_lock:
            sent.append((event.workspace_id, event.sequence, event.id))
        time.sleep(0.002)  # a send takes a moment: widen the windows for races

    relays = [
        OutboxRelay(database, record, batch_size=2),
        OutboxRelay(second_database, record, batch_size=2),
        OutboxRelay(database, record, batch_size=3),
    ]
    emitted: list[UUID] = []

    async def emit_some(round_: int) -> None:
        for workspace in workspaces:
            for n in range(2):
                emitted.append(
                    await _emit(database, workspace, "test.relayed", {"r": round_, "n": n})
                )

    for round_ in range(5):
        # Writers keep emitting while every relay passes at once.
        await asyncio.gather(emit_some(round_), *(r.relay_once() for r in relays))
    idle_passes = 0
    for _ in range(50):
        counts = await asyncio.gather(*(r.relay_once() for r in relays))
        idle_passes = idle_passes + 1 if not any(counts) else 0
        if idle_passes == 2:
            break
    assert idle_passes == 2, "the relays never ran out of due events"

    # None lost: every event was sent.
    assert {event_id for _ws, _seq, event_id in sent} == set(emitted)
    # In order per workspace: first dispatches follow the sequence, with no gap.
    for workspace in workspaces:
        firsts: list[int] = []
        for ws, sequence, _event_id in sent:
            if ws == workspace and sequence not in firsts:
                firsts.append(sequence)
        assert firsts == list(range(1, 11)), (workspace, firsts)
    # Every send was recorded on its event (no two relays overwrote each other's mark).
    for workspace in workspaces:
        for event in await _events(database, workspace):
            sends = sum(1 for _ws, _seq, event_id in sent if event_id == event.id)
            assert event.dispatched_at is not None
            assert event.dispatch_count == sends, (event.sequence, event.dispatch_count, sends)
            assert event.processed_at is None


# -- workers give back what they hold -------------------------------------------------------


async def _app_backends(inspector_engine: AsyncEngine, login_role: str | None) -> set[int]:
    """Server processes of the application's login role on this database."""
    async with inspector_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select pid from pg_stat_activity "
                "where usename = :role and datname = current_database()"
            ),
            {"role": login_role},
        )
        return {row[0] for row in rows}


@pytest.mark.skipif(not is_postgres_run(), reason="counts server connections on Postgres")
async def test_stopping_the_workers_closes_their_database_connections(
    settings: Settings, test_database: TestDatabase, inspector_engine: AsyncEngine, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[0]
    own = Database(test_database.app_url, app_role=APP_ROLE)  # disposed of below
    before = await _app_backends(inspector_engine, test_database.app_login_role)
    try:
        worker_settings = settings.model_copy(update={"broker_url": "memory://"})
        async with Background(worker_settings, own, run_workers=True) as background:
            background.actors.verify_audit_chain.send(str(workspace))

            async def verified() -> int:
                async with inspector_engine.connect() as conn:
                    count = await conn.scalar(
                        text("select count(*) from audit_verifications where workspace_id = :ws"),
                        {"ws": workspace},
                    )
                return int(count or 0)

            await eventually(verified, within=10)  # an actor ran: the workers hold connections
    finally:
        await own.dispose()

    # Closed by stopping the workers, not whenever a garbage collection finds the
    # engine they dropped: no collection runs while this test looks.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        deadline = time.monotonic() + 5
        leftover = await _app_backends(inspector_engine, test_database.app_login_role) - before
        while leftover and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            leftover = await _app_backends(inspector_engine, test_database.app_login_role) - before
    finally:
        if gc_was_enabled:
            gc.enable()
    assert leftover == set(), f"{len(leftover)} connections outlive the stopped workers"
