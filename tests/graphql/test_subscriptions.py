"""GraphQL subscriptions: live changes from the outbox, authorized like queries, bounded.

The app runs under uvicorn on loopback with its background (the real outbox relay);
changes are made through GraphQL over HTTP, on the same instance or on another one,
and arrive on a graphql-transport-ws socket.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import uuid4

import httpx
import pika
import pika.exceptions
import pytest
import redis

from backend.auth.sessions import CSRF_HEADER, NewSession
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.entrypoints.app import create_app
from backend.models.outbox import OutboxEvent
from backend.outbox.live import EXCHANGE, QUEUE_MAX_LENGTH, LiveEvent, LiveEvents
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.relay import decode_global_id
from graphql_schema.subscriptions.feed import SLOW_CONSUMER_CLOSE, EventQueue
from tests.fixtures.databases import configured_broker_url, real_broker_url, unreachable
from tests.fixtures.graphql import global_id
from tests.fixtures.node_clients import run_client
from tests.fixtures.sockets import (
    GraphQLSocket,
    SocketClosed,
    cookie_header,
    graphql_socket,
    open_browser_session,
    serve,
)
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import World, add_feedback, build_world
from workers.background import Background

CREATE_MAP = """mutation($input: CreateJourneyMapInput!) {
  createJourneyMap(input: $input) { journeyMap { id version } errors { code } } }"""
UPDATE_MAP = """mutation($input: UpdateJourneyMapInput!) {
  updateJourneyMap(input: $input) { journeyMap { version } errors { code } } }"""
MAP_CHANGED = """subscription($id: ID!) {
  journeyMapChanged(id: $id) {
    action version journeyMap { title version }
    revision { version createdBy { email } }
    changes { path kind before after } } }"""
ALERTS = "subscription($ws: ID!) { healthAlertRaised(workspaceId: $ws) { kind } }"
FEEDBACK = """subscription($ws: ID!) {
  feedbackReceived(workspaceId: $ws) { counts { count touchpoint { id } } } }"""
CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { id } errors { code } } }"""
REMOVE_FROM_WORKSPACE = """mutation($ws: ID!, $user: ID!) {
  removeWorkspaceMember(input: {workspaceId: $ws, userId: $user}) { errors { code } } }"""
REVOKE_TOKEN = """mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { revokedAt } errors { code } } }"""

RECHECK_SECONDS = 0.5


@dataclass
class Instance:
    address: str
    http: httpx.AsyncClient
    live: LiveEvents  # this process's live events

    async def graphql(self, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        return body


@asynccontextmanager
async def instance(settings: Settings, database: Database) -> AsyncIterator[Instance]:
    """An API process: the app under uvicorn with its relay, on the shared database."""
    app = create_app(settings, database=database)
    async with (
        serve(app, lifespan=True) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        yield Instance(address, http, app.state.live)


def fast(settings: Settings, **more: Any) -> Settings:
    return settings.model_copy(update={"subscription_recheck_seconds": RECHECK_SECONDS, **more})


async def new_map(server: Instance, tenant: Tenant, title: str = "Onboarding") -> str:
    body = await server.graphql(
        tenant.token, CREATE_MAP, {"input": {"workspaceId": tenant.ws_gid(), "title": title}}
    )
    map_id: str = body["data"]["createJourneyMap"]["journeyMap"]["id"]
    return map_id


async def rename(server: Instance, tenant: Tenant, map_id: str, title: str) -> None:
    body = await server.graphql(tenant.token, UPDATE_MAP, {"input": {"id": map_id, "title": title}})
    assert body["data"]["updateJourneyMap"]["errors"] == [], body


async def start(socket: GraphQLSocket, query: str, variables: dict[str, Any]) -> str:
    op_id = str(uuid4())
    await socket.send(
        {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    return op_id


async def next_message(socket: GraphQLSocket, op_id: str) -> dict[str, Any]:
    """The operation's next message (next, error or complete), skipping pings."""
    while True:
        message = await socket.receive()
        if message.get("id") == op_id:
            return message


async def ended_with(socket: GraphQLSocket, op_id: str) -> str | None:
    """The error code the subscription ended with (skipping any data before it)."""
    while True:
        message = await next_message(socket, op_id)
        if message["type"] == "error":
            return str(message["payload"][0]["extensions"]["code"])
        if message["type"] == "next" and message["payload"].get("errors"):
            return str(message["payload"]["errors"][0]["extensions"]["code"])
        if message["type"] == "complete":
            return None


async def subscribed(socket: GraphQLSocket, op_id: str) -> None:
    """No error came back at once: the subscription runs (and listens) now."""
    try:
        message = await asyncio.wait_for(next_message(socket, op_id), 0.3)
    except TimeoutError:
        return
    # A change committed just before it began may still be on its way.
    assert message["type"] == "next", message
    assert not message["payload"].get("errors"), message


async def change_to(socket: GraphQLSocket, op_id: str, version: int) -> dict[str, Any]:
    """The journeyMapChanged message of ``version`` (earlier ones may still arrive)."""
    while True:
        message = await next_message(socket, op_id)
        assert message["type"] == "next", message
        change: dict[str, Any] = message["payload"]["data"]["journeyMapChanged"]
        if change["version"] >= version:
            return change


def token_params(token: str) -> dict[str, Any]:
    return {"authorization": f"Bearer {token}"}


# -- delivery -----------------------------------------------------------------------------


async def test_a_map_change_arrives_after_commit_on_the_in_process_broker(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        map_id = await new_map(server, tenant_a)
        async with graphql_socket(server.address, params=token_params(tenant_a.token)) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            await rename(server, tenant_a, map_id, "Onboarding v2")
            change = await change_to(ws, op, 2)
    assert change["journeyMap"]["title"] == "Onboarding v2"
    assert change["version"] == change["journeyMap"]["version"] == 2
    assert change["revision"]["version"] == 2
    assert change["revision"]["createdBy"]["email"] == tenant_a.owner_email
    assert {
        "path": "title",
        "kind": "CHANGED",
        "before": "Onboarding",
        "after": "Onboarding v2",
    } in [{k: c[k] for k in ("path", "kind", "before", "after")} for c in change["changes"]]


async def test_an_event_announced_twice_is_queued_once() -> None:
    queue = EventQueue(10, lambda _event: True)
    event = LiveEvent(uuid4(), uuid4(), 7, "journey_map.changed", {"journey_map_id": "x"})
    queue.offer(event)
    queue.offer(LiveEvent.from_json(event.to_json()))  # delivered again, as over Redis
    assert await queue.take(0) == [event]


async def test_an_older_event_resent_after_a_newer_one_is_dropped() -> None:
    queue = EventQueue(10, lambda _event: True)
    workspace = uuid4()
    older, newer = (LiveEvent(uuid4(), workspace, n, "health.alert", {}) for n in (3, 4))
    queue.offer(newer)
    queue.offer(older)  # resent late, after the subscriber had the newer one
    assert await queue.take(0) == [newer]


# -- authorization --------------------------------------------------------------------------


async def test_another_tenants_map_and_a_missing_one_read_the_same_not_found(
    settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        map_id = await new_map(server, tenant_a)
        missing = global_id("JourneyMap", uuid4())
        async with graphql_socket(server.address, params=token_params(tenant_b.token)) as ws:
            theirs = await next_message(ws, await start(ws, MAP_CHANGED, {"id": map_id}))
            nothing = await next_message(ws, await start(ws, MAP_CHANGED, {"id": missing}))
            alerts = await next_message(ws, await start(ws, ALERTS, {"ws": tenant_a.ws_gid()}))
    for message in (theirs, nothing, alerts):
        assert message["type"] == "next", message
        errors = message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]
        assert [e["message"] for e in errors] == ["Not found."]
        assert message["payload"]["data"] is None


async def test_a_workspace_limited_token_cannot_subscribe_to_its_other_workspaces(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        map_id = await new_map(server, tenant_a)  # in workspace 0
        body = await server.graphql(
            tenant_a.token,
            CREATE_TOKEN,
            {"input": {"name": "ws1", "workspaceId": tenant_a.ws_gid(1)}},
        )
        limited = body["data"]["createApiToken"]["token"]
        async with graphql_socket(server.address, params=token_params(limited)) as ws:
            assert await ended_with(ws, await start(ws, MAP_CHANGED, {"id": map_id})) == "NOT_FOUND"
            op = await start(ws, FEEDBACK, {"ws": tenant_a.ws_gid(0)})
            assert await ended_with(ws, op) == "NOT_FOUND"
            allowed = await start(ws, FEEDBACK, {"ws": tenant_a.ws_gid(1)})
            await subscribed(ws, allowed)


async def test_revoking_the_token_ends_its_subscription(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        map_id = await new_map(server, tenant_a)
        body = await server.graphql(tenant_a.token, CREATE_TOKEN, {"input": {"name": "live"}})
        created = body["data"]["createApiToken"]
        async with graphql_socket(server.address, params=token_params(created["token"])) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            await server.graphql(tenant_a.token, REVOKE_TOKEN, {"id": created["apiToken"]["id"]})
            code = await asyncio.wait_for(ended_with(ws, op), 5 * RECHECK_SECONDS + 5)
    assert code == "UNAUTHENTICATED"


async def test_ending_the_session_ends_its_subscription(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        map_id = await new_map(server, tenant_a)
        opened = await open_browser_session(
            database,
            settings,
            user_id=tenant_a.owner_id,
            organization_id=tenant_a.organization_id,
        )
        async with graphql_socket(server.address, headers=cookie_header(opened)) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            response = await server.http.post(
                "/graphql",
                json={"query": "mutation { signOutEverywhere(input: {}) { sessionsEnded } }"},
                headers={**cookie_header(opened), CSRF_HEADER: opened.csrf_token},
            )
            assert not response.json().get("errors"), response.json()
            code = await asyncio.wait_for(ended_with(ws, op), 5 * RECHECK_SECONDS + 5)
    assert code == "UNAUTHENTICATED"


async def test_a_member_removed_from_the_workspace_stops_receiving(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        map_id = await new_map(server, tenant_a)
        guest_id, guest_token = await add_guest(
            database, tenant_a.workspace_ids[0], "guest@elsewhere.example", WorkspaceRole.VIEWER
        )
        async with graphql_socket(server.address, params=token_params(guest_token)) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            await server.graphql(
                tenant_a.token,
                REMOVE_FROM_WORKSPACE,
                {"ws": tenant_a.ws_gid(), "user": global_id("User", guest_id)},
            )
            await rename(server, tenant_a, map_id, "After they left")
            code = await asyncio.wait_for(ended_with(ws, op), 5 * RECHECK_SECONDS + 5)
    assert code == "NOT_FOUND"


# -- limits ---------------------------------------------------------------------------------


async def test_a_socket_runs_a_limited_number_of_subscriptions(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    limited = fast(settings, subscriptions_per_connection=2)
    async with (
        instance(limited, database) as server,
        graphql_socket(server.address, params=token_params(tenant_a.token)) as ws,
    ):
        for _ in range(2):
            await subscribed(ws, await start(ws, ALERTS, {"ws": tenant_a.ws_gid()}))
        third = await next_message(ws, await start(ws, ALERTS, {"ws": tenant_a.ws_gid()}))
    assert third["type"] == "error"
    assert third["payload"][0]["message"] == "Subscription limit reached"


async def test_a_credential_runs_a_limited_number_of_subscriptions_per_process(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings, subscriptions_per_credential=2), database) as server:
        params = token_params(tenant_a.token)
        async with (
            graphql_socket(server.address, params=params) as one,
            graphql_socket(server.address, params=params) as two,
        ):
            await subscribed(one, await start(one, ALERTS, {"ws": tenant_a.ws_gid()}))
            await subscribed(two, await start(two, ALERTS, {"ws": tenant_a.ws_gid()}))
            assert (
                await ended_with(two, await start(two, ALERTS, {"ws": tenant_a.ws_gid(1)}))
                == "SUBSCRIPTION_LIMIT"
            )
            # Another credential of the same person is counted on its own.
            async with graphql_socket(
                server.address,
                headers=cookie_header(await session_of(database, settings, tenant_a)),
            ) as three:
                await subscribed(three, await start(three, ALERTS, {"ws": tenant_a.ws_gid()}))
            await one.send({"id": "x", "type": "complete"})


async def test_a_slow_subscriber_is_dropped_with_its_close_code(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings, subscription_queue_size=2), database) as server:
        map_id = await new_map(server, tenant_a)
        map_uuid = str(decode_global_id(map_id)[1])  # type: ignore[index]
        async with graphql_socket(server.address, params=token_params(tenant_a.token)) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            # More events at once than it may hold, before it can take any.
            for version in range(10, 15):
                server.live.deliver(
                    LiveEvent(
                        uuid4(),
                        tenant_a.workspace_ids[0],
                        version,
                        "journey_map.changed",
                        {"journey_map_id": map_uuid, "version": version, "action": "test"},
                    )
                )
            with pytest.raises(SocketClosed) as closed:
                await drain(ws)
    assert closed.value.code == SLOW_CONSUMER_CLOSE


async def drain(socket: GraphQLSocket) -> None:
    """Read until the server closes the socket."""
    while True:
        await socket.receive()


async def session_of(database: Database, settings: Settings, tenant: Tenant) -> NewSession:
    return await open_browser_session(
        database, settings, user_id=tenant.owner_id, organization_id=tenant.organization_id
    )


# -- across processes -----------------------------------------------------------------------


def redis_url() -> str:
    """The run's Redis broker, else the shared test Redis."""
    configured = configured_broker_url()
    return configured if configured.startswith("redis://") else real_broker_url("redis")


async def test_a_change_made_through_another_instance_arrives_over_redis(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unreachable("Redis", error)
    on_redis = fast(settings, broker_url=url)
    # Two API processes on one database and one Redis, each with its own relay.
    async with instance(on_redis, database) as watched, instance(on_redis, database) as edited:
        map_id = await new_map(edited, tenant_a)
        async with graphql_socket(watched.address, params=token_params(tenant_a.token)) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            await rename(edited, tenant_a, map_id, "Edited elsewhere")
            change = await change_to(ws, op, 2)
    assert change["journeyMap"]["title"] == "Edited elsewhere"


async def test_a_change_relayed_by_a_worker_process_arrives_over_redis(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unreachable("Redis", error)
    on_redis = fast(settings, broker_url=url)
    app = create_app(on_redis, database=database)
    stop = asyncio.Event()
    # The API without its own relay, only listening; `waypost worker`'s relay beside it.
    listening = asyncio.create_task(app.state.live.run(stop))
    try:
        async with (
            serve(app) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
            Background(on_redis, database, run_workers=False),
        ):
            server = Instance(address, http, app.state.live)
            map_id = await new_map(server, tenant_a)
            async with graphql_socket(address, params=token_params(tenant_a.token)) as ws:
                op = await start(ws, MAP_CHANGED, {"id": map_id})
                await subscribed(ws, op)
                await rename(server, tenant_a, map_id, "Relayed by a worker")
                change = await change_to(ws, op, 2)
    finally:
        stop.set()
        await listening
        app.state.live.close()
    assert change["journeyMap"]["title"] == "Relayed by a worker"


def test_announcing_with_redis_down_neither_raises_nor_logs_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = LiveEvents("redis://127.0.0.1:1/0")  # nothing listens there
    event = OutboxEvent(
        id=uuid4(), workspace_id=uuid4(), sequence=1, event_type="health.alert", payload={}
    )
    with caplog.at_level(logging.WARNING, logger="waypost.live"):
        live.announce(event)
        live.announce(event)  # within the retry interval: not even tried
    live.close()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["live events stopped"]


def rabbitmq_url() -> str:
    """The run's RabbitMQ broker, else the shared test RabbitMQ (failing, not skipping,
    in CI when it does not answer)."""
    configured = configured_broker_url()
    url = configured if configured.startswith("amqp://") else real_broker_url("amqp")
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except pika.exceptions.AMQPError as error:
        unreachable("RabbitMQ", error)
    return url


async def test_a_change_made_through_another_instance_arrives_over_rabbitmq(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    on_rabbitmq = fast(settings, broker_url=rabbitmq_url())
    async with (
        instance(on_rabbitmq, database) as watched,
        instance(on_rabbitmq, database) as edited,
    ):
        await _until(lambda: watched.live.listening)
        map_id = await new_map(edited, tenant_a)
        async with graphql_socket(watched.address, params=token_params(tenant_a.token)) as ws:
            op = await start(ws, MAP_CHANGED, {"id": map_id})
            await subscribed(ws, op)
            await rename(edited, tenant_a, map_id, "Edited elsewhere")
            change = await asyncio.wait_for(change_to(ws, op, 2), 10)
    assert change["journeyMap"]["title"] == "Edited elsewhere"


async def test_a_change_relayed_by_a_worker_process_arrives_over_rabbitmq(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """Before, on RabbitMQ only the relaying process heard an event: here the worker,
    which no subscriber listens to, and the API's subscriber waited in vain."""
    on_rabbitmq = fast(settings, broker_url=rabbitmq_url())
    app = create_app(on_rabbitmq, database=database)
    stop = asyncio.Event()
    # The API without its own relay, only listening; `waypost worker`'s relay beside it.
    listening = asyncio.create_task(app.state.live.run(stop))
    try:
        async with (
            serve(app) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
            Background(on_rabbitmq, database, run_workers=False),
        ):
            server = Instance(address, http, app.state.live)
            await _until(lambda: server.live.listening)
            map_id = await new_map(server, tenant_a)
            async with graphql_socket(address, params=token_params(tenant_a.token)) as ws:
                op = await start(ws, MAP_CHANGED, {"id": map_id})
                await subscribed(ws, op)
                await rename(server, tenant_a, map_id, "Relayed by a worker")
                change = await asyncio.wait_for(change_to(ws, op, 2), 10)
    finally:
        stop.set()
        await listening
        app.state.live.close()
    assert change["journeyMap"]["title"] == "Relayed by a worker"


async def test_a_malformed_announcement_on_rabbitmq_is_dropped_and_the_next_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = rabbitmq_url()
    listening, announcing = LiveEvents(url), LiveEvents(url)
    workspace = uuid4()
    heard: list[LiveEvent] = []
    listening.listen(workspace, heard.append)
    stop = asyncio.Event()
    running = asyncio.create_task(listening.run(stop))
    try:
        await _until(lambda: listening.listening)
        publisher = pika.BlockingConnection(pika.URLParameters(url))
        publisher.channel().basic_publish(EXCHANGE, str(workspace), b"{not json")
        publisher.close()
        event = OutboxEvent(
            id=uuid4(), workspace_id=workspace, sequence=7, event_type="health.alert", payload={}
        )
        with caplog.at_level(logging.WARNING, logger="waypost.live"):
            await asyncio.to_thread(announcing.announce, event)
            await _until(lambda: bool(heard))
    finally:
        stop.set()
        await running
        listening.close()
        announcing.close()
    assert [(e.id, e.sequence) for e in heard] == [(event.id, 7)]
    assert any("malformed live event" in r.getMessage() for r in caplog.records)


async def test_announcements_arrive_again_after_rabbitmq_closed_every_connection() -> None:
    """The broker drops every connection (a restart, a network blip): both processes
    connect again by themselves, and what is announced then is heard."""
    url = rabbitmq_url()
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        unreachable("rabbitmqctl", FileNotFoundError("rabbitmqctl"))
    assert rabbitmqctl is not None
    vhost = unquote(urlparse(url).path.removeprefix("/")) or "/"
    listening, announcing = LiveEvents(url), LiveEvents(url)
    workspace = uuid4()
    heard: list[LiveEvent] = []
    listening.listen(workspace, heard.append)
    stop = asyncio.Event()
    running = asyncio.create_task(listening.run(stop))

    def event(sequence: int) -> OutboxEvent:
        return OutboxEvent(
            id=uuid4(), workspace_id=workspace, sequence=sequence, event_type="x", payload={}
        )

    try:
        await _until(lambda: listening.listening)
        await asyncio.to_thread(announcing.announce, event(1))
        await _until(lambda: len(heard) == 1)
        closing = [
            rabbitmqctl,
            "-q",
            "close_all_connections",
            "--vhost",
            vhost,
            "--limit",
            "100",
            "test",
        ]
        await asyncio.to_thread(subprocess.run, closing, check=True, capture_output=True)
        await _until(lambda: not listening.listening)
        await _until(lambda: listening.listening, 20)
        await asyncio.to_thread(announcing.announce, event(2))
        await _until(lambda: len(heard) == 2)
    finally:
        stop.set()
        await running
        listening.close()
        announcing.close()
    assert [e.sequence for e in heard] == [1, 2]


async def test_announcements_from_two_processes_arrive_in_the_order_they_were_made() -> None:
    """The relays of two processes take turns on one workspace (each announces under the
    workspace's lock): the listener hears the events in that order, since a subscriber
    drops an event older than one it already has."""
    url = rabbitmq_url()
    listening, first, second = LiveEvents(url), LiveEvents(url), LiveEvents(url)
    workspace = uuid4()
    heard: list[int] = []
    listening.listen(workspace, lambda event: heard.append(event.sequence))
    stop = asyncio.Event()
    running = asyncio.create_task(listening.run(stop))
    try:
        await _until(lambda: listening.listening)
        for sequence in range(1, 41):
            relay = first if sequence % 2 else second
            event = OutboxEvent(
                id=uuid4(), workspace_id=workspace, sequence=sequence, event_type="x", payload={}
            )
            await asyncio.to_thread(relay.announce, event)
        await _until(lambda: len(heard) == 40)
    finally:
        stop.set()
        await running
        for live in (listening, first, second):
            live.close()
    assert heard == list(range(1, 41))


async def _until(condition: Any, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_announcing_with_rabbitmq_down_never_waits_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The relay hands announcements over and goes on: with RabbitMQ unreachable they
    wait in a bounded backlog (the oldest dropped), and the outage is one line."""
    live = LiveEvents("amqp://guest:guest@127.0.0.1:1/")  # nothing listens there
    workspace = uuid4()
    with caplog.at_level(logging.WARNING, logger="waypost.live"):
        for sequence in range(1, QUEUE_MAX_LENGTH + 101):
            live.announce(
                OutboxEvent(
                    id=uuid4(),
                    workspace_id=workspace,
                    sequence=sequence,
                    event_type="health.alert",
                    payload={},
                )
            )
        await _until(lambda: live.outage.is_down)
        await asyncio.sleep(0.2)
    backlog = live._fanout._outgoing  # type: ignore[union-attr]
    live.close()
    assert len(backlog) == QUEUE_MAX_LENGTH
    assert '"sequence": 101' in backlog[0][1]  # the first hundred went
    said = [r.getMessage().split(":")[0] for r in caplog.records if r.name == "waypost.live"]
    assert said == ["live events stopped"]


async def test_a_subscription_without_a_credential_is_unauthenticated(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with (
        instance(fast(settings), database) as server,
        graphql_socket(server.address) as ws,
    ):
        op = await start(ws, ALERTS, {"ws": tenant_a.ws_gid()})
        assert await ended_with(ws, op) == "UNAUTHENTICATED"


# -- the graphql-ws npm client --------------------------------------------------------------


async def two_changes(
    script: str, watched: Instance, edited: Instance, tenant: Tenant
) -> list[dict[str, Any]]:
    """A JS client (tests/clients ``script``) subscribed to a new map on ``watched`` while
    it is renamed through ``edited``: its first two messages."""
    map_id = await new_map(edited, tenant)
    client = asyncio.create_task(
        run_client(
            script,
            {
                "url": f"ws://{watched.address}/graphql",
                "connectionParams": token_params(tenant.token),
                "query": MAP_CHANGED,
                "variables": {"id": map_id},
                "count": 2,
            },
        )
    )
    # The client says nothing once subscribed: edit until it has its two messages.
    edits = 0
    while not client.done() and edits < 100:
        edits += 1
        await rename(edited, tenant, map_id, f"Edit {edits}")
        await asyncio.wait([client], timeout=0.3)
    return await client


async def test_the_graphql_ws_client_receives_the_changes_made_while_it_runs(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    async with instance(fast(settings), database) as server:
        messages = await two_changes("graphql_ws_subscribe.mjs", server, server, tenant_a)
    changes = [m["data"]["journeyMapChanged"] for m in messages]
    assert len(changes) == 2
    for change in changes:
        assert change["journeyMap"]["version"] >= change["version"] >= 1
    assert changes[0]["version"] < changes[1]["version"]


# -- health alerts and feedback -------------------------------------------------------------

RECALCULATE = """mutation($ws: ID!) { recalculateHealth(input: {workspaceId: $ws}) {
  health { score } errors { code } } }"""
SUBMIT = """mutation($input: SubmitFeedbackBatchInput!) {
  submitFeedbackBatch(input: $input) { accepted errors { code } } }"""


async def rate_all(database: Database, world: World, value: int, times: int) -> None:
    for touchpoint in world.touchpoint_ids:
        for _ in range(5 * times):  # enough for a score
            await add_feedback(
                database, world, touchpoint, value=value, occurred_at=utcnow() - timedelta(days=1)
            )


async def test_a_health_alert_arrives_when_a_score_crosses_the_threshold(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    ws_id = tenant_a.ws_gid(0)
    async with instance(fast(settings), database) as server:
        await rate_all(database, world, 5, 1)
        await server.graphql(tenant_a.token, RECALCULATE, {"ws": ws_id})
        async with graphql_socket(server.address, params=token_params(tenant_a.token)) as ws:
            op = await start(ws, ALERTS, {"ws": ws_id})
            await subscribed(ws, op)
            await rate_all(database, world, 1, 3)
            await server.graphql(tenant_a.token, RECALCULATE, {"ws": ws_id})
            message = await next_message(ws, op)
    assert message["type"] == "next", message
    assert message["payload"]["data"]["healthAlertRaised"] == {"kind": "FELL_BELOW"}


async def test_new_feedback_is_counted_per_touchpoint_at_most_once_a_second(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    first, second = (global_id("Touchpoint", t) for t in world.touchpoint_ids[:2])
    ws_id = tenant_a.ws_gid(0)

    def item(touchpoint: str) -> dict[str, Any]:
        return {
            "source": "SUPPORT_TICKET",
            "externalId": str(uuid4()),
            "text": "Slow checkout",
            "touchpointId": touchpoint,
        }

    async with (
        instance(fast(settings), database) as server,
        graphql_socket(server.address, params=token_params(tenant_a.token)) as ws,
    ):
        op = await start(ws, FEEDBACK, {"ws": ws_id})
        await subscribed(ws, op)
        counts: dict[str, int] = {}
        arrivals: list[float] = []
        loop = asyncio.get_running_loop()

        async def read() -> None:  # meanwhile, so that arrival times are true
            while sum(counts.values()) < 4:
                message = await next_message(ws, op)
                assert message["type"] == "next", message
                arrivals.append(loop.time())
                for row in message["payload"]["data"]["feedbackReceived"]["counts"]:
                    touchpoint = row["touchpoint"]["id"]
                    counts[touchpoint] = counts.get(touchpoint, 0) + row["count"]

        reader = asyncio.create_task(read())
        for batch in ([first, first], [second], [first]):
            items = [item(t) for t in batch]
            await server.graphql(
                tenant_a.token, SUBMIT, {"input": {"workspaceId": ws_id, "items": items}}
            )
        await asyncio.wait_for(reader, 10)
    assert counts == {first: 3, second: 1}
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= 0.8 for gap in gaps), gaps  # one second, less transit jitter


# -- not over HTTP --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("application/json", id="json"),
        pytest.param("multipart/mixed;subscriptionSpec=1.0,application/json", id="multipart"),
    ],
)
async def test_a_subscription_over_http_is_refused_before_it_runs(
    accept: str, client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": "subscription A($ws: ID!) { healthAlertRaised(workspaceId: $ws) { kind } }",
            "variables": {"ws": tenant_a.ws_gid()},
        },
        headers={"Accept": accept, "Authorization": f"Bearer {tenant_a.token}"},
    )
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]


async def test_apollo_client_receives_a_change_made_through_another_api_process(
    settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    """Apollo Client's graphql-ws link on one API process; the edits go through another,
    behind the same Redis."""
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unreachable("Redis", error)
    on_redis = fast(settings, broker_url=url)
    async with instance(on_redis, database) as watched, instance(on_redis, database) as edited:
        messages = await two_changes("apollo_subscribe.mjs", watched, edited, tenant_a)
    changes = [m["journeyMapChanged"] for m in messages]
    assert [c["journeyMap"]["title"].startswith("Edit ") for c in changes] == [True, True]
    assert changes[0]["version"] < changes[1]["version"]
