"""The faults, each injected into a running deployment while real clients write.

Every scenario answers the same five figures (``Result``): events lost, effects applied
twice, errors by kind, time to recover, and a note of what recovered it. "Lost" counts
what a client was told was accepted and the database does not hold, plus outbox events
still unhandled when the scenario's drain deadline passes; "applied twice" counts
feedback stored twice, outbox events whose handling committed twice (the ledger of
``database.HANDLED_LEDGER``) and map changes found in two revisions.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx

from bench.faults.clients import GraphQL, Ingestor, Tally, gid_uuid
from bench.faults.database import Pipeline, Reader
from bench.faults.deployment import Deployment

EVENT_NAMES = tuple(f"faults.step_{n}" for n in range(5))
SETUP_DRAIN_SECONDS = 30.0


class DrainLimit:
    """How long a scenario waits for the outbox to drain before counting the rest lost."""

    seconds = 120.0


UPDATE_MAP = """mutation($id: ID!, $v: Int, $title: String!) {
  updateJourneyMap(input: {id: $id, expectedVersion: $v, title: $title}) {
    journeyMap { version title } errors { code message } } }"""
READ_MAP = "query($id: ID!) { journeyMap(id: $id) { version title } }"
CREATE_MAP = """mutation($ws: ID!, $title: String!, $template: JourneyMapTemplate!) {
  createJourneyMap(input: {workspaceId: $ws, title: $title, template: $template,
    status: ACTIVE}) { journeyMap { id version stages { id } } errors { code message } } }"""
ADD_TOUCHPOINT = """mutation($stage: ID!, $name: String!, $events: [String!]!) {
  addTouchpoint(input: {stageId: $stage, name: $name, matchKeys: {eventNames: $events}}) {
    touchpoint { id } errors { code message } } }"""
ISSUE_INGESTION_KEY = (
    "mutation($ws: ID!) { createIngestionToken(input: {workspaceId: $ws, "
    'name: "faults"}) { token errors { code } } }'
)
WORKSPACES = "{ viewer { workspaces { edges { node { id } } } } }"


@dataclass
class Result:
    scenario: str
    events_lost: int = 0
    applied_twice: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    recover_seconds: float | None = None
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.events_lost == 0 and self.applied_twice == 0


@dataclass
class World:
    """What the scenarios write to: one workspace, its ingestion token, a map of
    touchpoints matching the feedback's event names."""

    deployment: Deployment
    reader: Reader
    token: str
    workspace_gid: str
    workspace: UUID
    ingestion_token: str

    def client(self, connections: int = 8) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.deployment.base, limits=limits)

    async def new_map(self, gql: GraphQL, title: str) -> tuple[str, int]:
        made = await gql.must(
            CREATE_MAP, {"ws": self.workspace_gid, "title": title, "template": "BLANK"}
        )
        return made["journeyMap"]["id"], int(made["journeyMap"]["version"])


async def build_world(deployment: Deployment, reader: Reader) -> World:
    token = deployment.bootstrap(f"faults-{uuid4().hex[:6]}")
    async with httpx.AsyncClient(base_url=deployment.base, timeout=30) as client:
        gql = GraphQL(client, token)
        viewer = await gql.must(WORKSPACES)
        ws_gid = viewer["workspaces"]["edges"][0]["node"]["id"]
        made = await gql.must(
            CREATE_MAP, {"ws": ws_gid, "title": "Feedback", "template": "FIVE_STAGE"}
        )
        for n, stage in enumerate(made["journeyMap"]["stages"]):
            await gql.must(
                ADD_TOUCHPOINT,
                {"stage": stage["id"], "name": f"Step {n}", "events": [EVENT_NAMES[n]]},
            )
        issued = await gql.must(ISSUE_INGESTION_KEY, {"ws": ws_gid})
    world = World(deployment, reader, token, ws_gid, gid_uuid(ws_gid), issued["token"])
    state, took = await drain(world, 0, min(SETUP_DRAIN_SECONDS, DrainLimit.seconds))
    if took is None:
        # Said at once: every scenario would then count its events as lost.
        print(
            f"warning: the setup's {state.emitted} outbox events are not handled after "
            f"{min(SETUP_DRAIN_SECONDS, DrainLimit.seconds):.0f} s "
            f"({state.dispatched} dispatched): the background pipeline does not run",
            file=sys.stderr,
        )
    return world


async def drain(world: World, since: int, seconds: float) -> tuple[Pipeline, float | None]:
    """Wait until every event after sequence ``since`` is handled (or dead-lettered);
    the last count, and the seconds it took (None: the deadline passed first)."""
    started = time.monotonic()
    while True:
        state = await world.reader.pipeline(world.workspace, since)
        if state.pending == 0:
            return state, time.monotonic() - started
        if time.monotonic() - started > seconds:
            return state, None
        await asyncio.sleep(0.25)


class Run:
    """Bookkeeping shared by the scenarios: a start mark, then the figures."""

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.result = Result(name)
        self.prefix = f"{name.split()[0]}-{uuid4().hex[:6]}"

    async def __aenter__(self) -> Run:
        self.since = await self.world.reader.last_sequence(self.world.workspace)
        self.marks = self.world.deployment.log_marks()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def settle(self, drain_seconds: float) -> float | None:
        """Drain the outbox and add the pipeline's and the logs' figures."""
        state, took = await drain(self.world, self.since, drain_seconds)
        self.result.events_lost += state.pending
        self.result.applied_twice += state.handled_twice
        if state.dead_lettered:
            self.result.errors["dead letters"] += state.dead_lettered
        if state.redelivered:
            self.result.errors["events sent again (absorbed)"] += state.redelivered
        self.result.errors.update(self.world.deployment.tracebacks_since(self.marks))
        return took

    async def check_feedback(self, ingestors: list[Ingestor]) -> None:
        """Every item a client was told about (accepted or duplicate) is stored once."""
        told = sum(i.accepted + i.duplicates for i in ingestors)
        rows, twice = await self.world.reader.feedback(self.world.workspace, self.prefix)
        self.result.events_lost += max(0, told - rows)
        self.result.applied_twice += twice
        for ingestor in ingestors:
            self.result.errors.update(ingestor.tally.errors())


async def _until(condition: Any, seconds: float, every: float = 0.1) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await condition():
            return time.monotonic() - started
        await asyncio.sleep(every)
    return None


# -- 1. broker down during ingestion ---------------------------------------------------


async def broker_down(world: World, *, outage: float = 30.0, clients: int = 2) -> Result:
    """Redis unreachable (connections cut, new ones refused) for ``outage`` seconds while
    ingestion goes on; the clock runs from Redis's return until every event is handled."""
    async with Run(world, f"broker down {outage:g} s during ingestion") as run:
        async with world.client() as http:
            ingestors = [Ingestor(http, world.ingestion_token, EVENT_NAMES) for _ in range(clients)]
            load = [
                asyncio.create_task(
                    i.run(f"{run.prefix}-{n}", seconds=outage + 2, size=20, every=0.5)
                )
                for n, i in enumerate(ingestors)
            ]
            await asyncio.sleep(1.0)
            world.deployment.redis.down()
            await asyncio.sleep(outage)
            world.deployment.redis.up()
            repaired = time.monotonic()
            await asyncio.gather(*load)
        took = await run.settle(DrainLimit.seconds)
        await run.check_feedback(ingestors)
        run.result.recover_seconds = None if took is None else time.monotonic() - repaired
        run.result.note = "until every event accepted during the outage is handled"
        return run.result


# -- 2. broker killed with messages inside ---------------------------------------------


async def broker_flushed(world: World, *, batches: int = 10) -> Result:
    """The worker stopped, events relayed into Redis, then Redis 'killed': connections cut
    and its database flushed (a restart without persistence), the worker started again."""
    deployment = world.deployment
    assert deployment.worker is not None
    async with Run(world, "broker killed with messages inside") as run:
        deployment.worker.stop()
        async with world.client() as http:
            ingestor = Ingestor(http, world.ingestion_token, EVENT_NAMES)
            for n in range(batches):
                await ingestor.send(f"{run.prefix}-{n}", 20)

        async def dispatched() -> bool:
            state = await world.reader.pipeline(world.workspace, run.since)
            return state.emitted > 0 and state.dispatched == state.emitted

        await _until(dispatched, 30)
        inside = await asyncio.to_thread(_queued, deployment)
        deployment.redis.down()
        await asyncio.to_thread(deployment.broker_client().flushdb)
        deployment.redis.up()
        repaired = time.monotonic()
        deployment.worker.start()
        took = await run.settle(DrainLimit.seconds)
        await run.check_feedback([ingestor])
        run.result.recover_seconds = None if took is None else time.monotonic() - repaired
        run.result.note = f"{inside} messages flushed; until all handled (relay sees a new epoch)"
        return run.result


def _queued(deployment: Deployment) -> int:
    client = deployment.broker_client()
    return sum(
        int(client.llen(key))
        for key in client.scan_iter("dramatiq:*")
        if client.type(key) == b"list"
    )


# -- 3. worker kill -9 mid-pass ---------------------------------------------------------


async def worker_killed(world: World, *, batches: int = 12) -> Result:
    """A burst of feedback, the worker SIGKILLed while it works through it, a new one
    started at once (as a supervisor would)."""
    deployment = world.deployment
    assert deployment.worker is not None
    async with Run(world, "worker kill -9 mid-pass") as run:
        async with world.client() as http:
            ingestor = Ingestor(http, world.ingestion_token, EVENT_NAMES)
            await asyncio.gather(*(ingestor.send(f"{run.prefix}-{n}", 50) for n in range(batches)))

        async def midway() -> bool:
            state = await world.reader.pipeline(world.workspace, run.since)
            return 0 < state.processed < state.emitted

        await _until(midway, 30, every=0.02)
        before = await world.reader.pipeline(world.workspace, run.since)
        deployment.worker.kill()
        killed = time.monotonic()
        deployment.worker.start()
        took = await run.settle(DrainLimit.seconds)
        await run.check_feedback([ingestor])
        run.result.recover_seconds = None if took is None else time.monotonic() - killed
        run.result.note = (
            f"killed with {before.processed} of {before.emitted} events handled; "
            "until the rest are (the dead worker's messages requeued)"
        )
        return run.result


# -- 4. database connections cut under concurrent writers ------------------------------


@dataclass
class Writer:
    """Changes its own map's title with expectedVersion; an attempt whose answer is an
    error may have committed, so it is retried at the same expected version (a CONFLICT
    then says it had)."""

    gql: GraphQL
    map_gid: str
    version: int
    name: str
    tally: Tally = field(default_factory=Tally)
    acknowledged: dict[int, str] = field(default_factory=dict)  # version -> title
    attempts: int = 0
    first_ok_after: dict[float, float] = field(default_factory=dict)

    async def write_once(self) -> str:
        self.attempts += 1
        title = f"{self.name}-{self.attempts}"
        answer = await self.gql.call(
            UPDATE_MAP, {"id": self.map_gid, "v": self.version, "title": title}
        )
        self.tally.add(answer.kind)
        if answer.kind == "ok":
            self.version = int(answer.data["journeyMap"]["version"])
            self.acknowledged[self.version] = title
        elif answer.kind == "CONFLICT":
            read = await self.gql.call(READ_MAP, {"id": self.map_gid})
            if read.kind == "ok":
                self.version = int(read.data["version"])
        return answer.kind

    async def run(self, stop: asyncio.Event, pause: float = 0.05) -> None:
        while not stop.is_set():
            await self.write_once()
            await asyncio.sleep(pause)


async def check_revisions(world: World, writer: Writer) -> tuple[int, int, bool]:
    """(acknowledged changes missing, titles in two revisions, versions without gaps)."""
    revisions = await world.reader.revisions(world.workspace, gid_uuid(writer.map_gid))
    by_version = dict(revisions)
    missing = sum(1 for v, t in writer.acknowledged.items() if by_version.get(v) != t)
    titles = Counter(t for _v, t in revisions)
    twice = sum(n - 1 for n in titles.values() if n > 1)
    versions = [v for v, _t in revisions]
    return missing, twice, versions == list(range(versions[0], versions[0] + len(versions)))


async def database_cut(world: World, *, outage: float = 5.0, writers: int = 4) -> Result:
    """Every Postgres connection cut and new ones refused for ``outage`` seconds while
    ``writers`` clients change maps; the clock runs from Postgres's return until every
    writer has a change accepted again."""
    deployment = world.deployment
    async with Run(world, f"database cut {outage:g} s under {writers} writers") as run:
        async with world.client(writers * 2) as http:
            gql = GraphQL(http, world.token)
            team = []
            for n in range(writers):
                map_gid, version = await world.new_map(gql, f"{run.prefix}-{n}")
                team.append(Writer(GraphQL(http, world.token), map_gid, version, f"w{n}"))
            stop = asyncio.Event()
            load = [asyncio.create_task(w.run(stop)) for w in team]
            await asyncio.sleep(2.0)
            deployment.postgres.down()
            await asyncio.sleep(outage)
            deployment.postgres.up()
            counts = [len(w.acknowledged) for w in team]

            async def all_writing() -> bool:
                return all(len(w.acknowledged) > c for w, c in zip(team, counts, strict=True))

            recovered = await _until(all_writing, 60, every=0.05)
            run.result.recover_seconds = recovered
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*load)
            ready = deployment.ready()
        gaps = 0
        for writer in team:
            missing, twice, contiguous = await check_revisions(world, writer)
            run.result.events_lost += missing
            run.result.applied_twice += twice
            gaps += not contiguous
            run.result.errors.update(writer.tally.errors())
        await run.settle(DrainLimit.seconds)
        acknowledged = sum(len(w.acknowledged) for w in team)
        run.result.note = (
            f"{acknowledged} changes acknowledged, revisions with gaps: {gaps}; "
            f"until every writer succeeds again; /readyz {'green' if ready else 'RED'} after"
        )
        if recovered is None:
            run.result.note += " (a writer never recovered)"
        return run.result


# -- 5. SIGTERM of API and worker with work in flight ----------------------------------


async def sigterm(world: World, *, load_seconds: float = 6.0) -> Result:
    """Ingestion and map writers running; SIGTERM to the API and the worker at once; both
    started again when they have exited; the clients retry what got no answer."""
    deployment = world.deployment
    assert deployment.api is not None
    assert deployment.worker is not None
    async with Run(world, "SIGTERM of API and worker with work in flight") as run:
        async with world.client() as http:
            ingestors = [Ingestor(http, world.ingestion_token, EVENT_NAMES) for _ in range(2)]
            gql = GraphQL(http, world.token)
            map_gid, version = await world.new_map(gql, f"{run.prefix}-map")
            writer = Writer(GraphQL(http, world.token), map_gid, version, "sigterm")
            stop = asyncio.Event()
            load = [
                asyncio.create_task(
                    i.run(f"{run.prefix}-{n}", seconds=load_seconds, size=25, every=0.2)
                )
                for n, i in enumerate(ingestors)
            ]
            load.append(asyncio.create_task(writer.run(stop)))
            await asyncio.sleep(2.0)
            termed = time.monotonic()
            deployment.api.signal(15)
            deployment.worker.signal(15)
            api_code = await asyncio.to_thread(deployment.api.wait, 30)
            worker_code = await asyncio.to_thread(deployment.worker.wait, 60)
            api_exit, worker_exit = time.monotonic() - termed, time.monotonic() - termed
            for service, code in ((deployment.api, api_code), (deployment.worker, worker_code)):
                if code is None:
                    run.result.errors[f"{service.name} ignored SIGTERM (killed)"] += 1
                    service.kill()
                elif code not in (0, -15):  # uvicorn re-raises SIGTERM once it is done
                    run.result.errors[f"{service.name} exit code {code}"] += 1
            await asyncio.to_thread(deployment.start_api)
            deployment.worker.start()
            back = time.monotonic() - termed
            await asyncio.gather(*load[:-1])
            stop.set()
            await load[-1]
        missing, twice, contiguous = await check_revisions(world, writer)
        run.result.events_lost += missing
        run.result.applied_twice += twice
        run.result.errors.update(writer.tally.errors())
        await run.settle(DrainLimit.seconds)
        await run.check_feedback(ingestors)
        run.result.recover_seconds = back
        run.result.note = (
            f"both exited in {max(api_exit, worker_exit):.1f} s (codes {api_code}, "
            f"{worker_code}); revisions {'without' if contiguous else 'WITH'} gaps; "
            "from SIGTERM until both are serving again (restarted at once)"
        )
        return run.result


# -- 6. concurrent writers on one map ---------------------------------------------------


async def one_map_writers(world: World, *, writers: int = 50) -> Result:
    """``writers`` clients change one map at once, all at the version they read: one is
    applied, the others get CONFLICT; nothing acknowledged is missing, nothing twice."""
    async with Run(world, f"{writers} concurrent writers on one map") as run:
        async with world.client(writers) as http:
            gql = GraphQL(http, world.token)
            map_gid, version = await world.new_map(gql, f"{run.prefix}-map")
            team = [
                Writer(GraphQL(http, world.token), map_gid, version, f"c{n}")
                for n in range(writers)
            ]
            kinds = await asyncio.gather(*(w.write_once() for w in team))
            final = await gql.must(READ_MAP, {"id": map_gid})
        applied = sum(1 for k in kinds if k == "ok")
        revisions = await world.reader.revisions(world.workspace, gid_uuid(map_gid))
        newer = [(v, t) for v, t in revisions if v > version]
        acknowledged = {t for w in team for t in w.acknowledged.values()}
        stored = Counter(t for _v, t in newer)
        run.result.events_lost += len(acknowledged - set(stored))
        run.result.applied_twice += sum(n - 1 for n in stored.values() if n > 1)
        # A change stored that no client was told about would be a write without an answer.
        unanswered = len(set(stored) - acknowledged)
        contiguous = [v for v, _t in newer] == list(range(version + 1, version + 1 + len(newer)))
        for writer in team:
            run.result.errors.update(writer.tally.errors())
        await run.settle(DrainLimit.seconds)
        run.result.note = (
            f"{applied} applied, {writers - applied} CONFLICT, version {version} -> "
            f"{final['version']}, revisions "
            f"{'without' if contiguous else 'WITH'} gaps, {unanswered} stored unanswered"
        )
        if not contiguous or int(final["version"]) != version + applied:
            run.result.events_lost += 1  # a version the revisions do not account for
        return run.result


SCENARIOS: dict[str, Callable[..., Awaitable[Result]]] = {
    "broker-down": broker_down,
    "broker-flushed": broker_flushed,
    "worker-killed": worker_killed,
    "database-cut": database_cut,
    "sigterm": sigterm,
    "one-map": one_map_writers,
}
