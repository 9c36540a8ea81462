"""`make bench`: seed, serve, load, compare, and rewrite the tables in docs/benchmarks.md.

    .venv/bin/python -m bench.run                      # small, medium, large; 3 x 10 s runs
    .venv/bin/python -m bench.run --sizes small --quick  # a smoke run of every step
    .venv/bin/python -m bench.run --sizes medium --workloads f --servers planned-on
        # a focused run: PostGraphile and the servers named, the workloads named; it
        # leaves docs/benchmarks.md alone (its tables are whole runs)

Read workloads are served side by side, one server at a time (never two at once), each
server with the same number of processes: PostGraphile v5, then Waypost in four
configurations -- its map-read cache on or off, and the ordinary engine or the planned
one (``planned_reads``) -- then the asyncpg floor (map read only). Workload (a), the
nested map read, runs on every size; on the main size (medium) so do (b) the workspace
dashboard, (f) the feedback list (100 items with touchpoint and map) and (g) the audit
trail (100 events with their actors), with the cache off only for (a) and (b). Before
any load, every request the load will send is answered by each server and compared, in
a canonical form, with PostGraphile's answer: a difference fails the run. Each figure
is the median of ``--repeats`` wrk runs of ``--seconds`` after a warm-up, at each
connection count. On the main size it also measures a mixed read/write session (c),
with both engines, ingestion (d) and health (e).
Everything measured is kept in bench/.out/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import make_url

from bench import ingest, load, peers, report, seed, servers, workloads

OUT = Path(__file__).resolve().parent / ".out"
# Where each server listens in turn; another checkout benchmarking at once sets its own.
PORT = int(os.environ.get("WAYPOST_BENCH_PORT") or 8711)


@dataclass(frozen=True)
class Plan:
    sizes: list[str]
    seconds: float
    repeats: int
    connections: list[int]
    processes: int
    warmup: float
    import_rows: int
    http_batches: int
    e2e_samples: int
    main_size: str = "medium"
    # What a focused run measures (``--workloads``, ``--servers``); everything by default.
    workloads: frozenset[str] = frozenset("abcdefg")
    servers: frozenset[str] = frozenset()  # short names (SERVER_NAMES); empty: all


@dataclass
class Results:
    plan: dict[str, Any]
    machine: dict[str, Any]
    started_at: str
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (a), (b), (f), (g): one row per workload, size, server (configuration), connections.
    reads: list[dict[str, Any]] = field(default_factory=list)
    mixed: list[dict[str, Any]] = field(default_factory=list)
    ingestion: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)


def _say(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def _machine() -> dict[str, Any]:
    def version(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        except FileNotFoundError:
            return "not found"
        return (done.stdout or done.stderr).strip().splitlines()[0]

    memory = Path("/proc/meminfo").read_text().split()[1]
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(int(memory) / 1024 / 1024),
        "python": platform.python_version(),
        "postgres": version("psql", "--version"),
        "wrk": version(load.require_wrk(), "-v"),
        "node": version(str(peers.NODE_BIN / "node"), "--version"),
        "postgraphile": json.loads((peers.POSTGRAPHILE_DIR / "package.json").read_text())[
            "dependencies"
        ]["postgraphile"],
    }


def _dsn(world: seed.World) -> str:
    return make_url(world.database_url).set(drivername="postgresql").render_as_string(False)


def _groups(server: Callable[[], list[int]]) -> dict[str, Callable[[], list[int]]]:
    return {"server": server, "postgres": lambda: load.pids_named("postgres")}


def _figures(run: load.Run) -> dict[str, Any]:
    return {
        "rps": round(run.per_second, 1),
        "p50_ms": round(run.p50_ms, 1),
        "p95_ms": round(run.p95_ms, 1),
        "p99_ms": round(run.p99_ms, 1),
        "errors": run.errors,
        "cpu_server": round(run.cpu_share("server"), 2),
        "cpu_postgres": round(run.cpu_share("postgres"), 2),
        "cpu_wrk": round(run.cpu_share("wrk"), 2),
    }


def _measure(
    plan: Plan,
    url: str,
    script: str,
    server: Callable[[], list[int]],
    *,
    threads: Callable[[int], int] = lambda c: min(c, 2),
) -> Iterator[tuple[int, load.Run]]:
    """Warm up at the highest connection count, then the median of the repeats at each."""
    low = min(plan.connections)
    load.wrk(url, script, connections=low, seconds=plan.warmup, threads=threads(low), groups={})
    _wait_idle(server)
    for connections in plan.connections:
        runs = []
        for _ in range(plan.repeats):
            runs.append(
                load.wrk(
                    url,
                    script,
                    connections=connections,
                    seconds=plan.seconds,
                    threads=threads(connections),
                    groups=_groups(server),
                )
            )
            _wait_idle(server)
        yield connections, load.median_run(runs)


def _wait_idle(server: Callable[[], list[int]], *, quiet: float = 0.05) -> None:
    """Until the server stops working on what a run left queued (at most a minute)."""
    deadline = time.monotonic() + 60
    last = load.cpu_seconds(server())
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = load.cpu_seconds(server())
        if now - last < quiet:
            return
        last = now


def _post(url: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
    response = httpx.post(url, content=data, headers=headers, timeout=60)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


@dataclass(frozen=True)
class Shape:
    """A read workload served side by side: the same question put to every server."""

    workload: str  # "a", "b", "f" or "g"
    title: str
    ours: list[bytes]  # Waypost's request bodies (the floor takes the same)
    theirs: list[bytes]  # PostGraphile's, the same questions in its schema
    canonical_ours: Callable[[dict[str, Any]], Any]
    canonical_theirs: Callable[[dict[str, Any]], Any]
    cache_off: bool = False  # Waypost with its map-read cache off serves it too
    floor: bool = False  # the asyncpg floor serves it too


@dataclass(frozen=True)
class Candidate:
    """A server of the side by side: PostGraphile, one Waypost configuration, the floor."""

    server: str  # report.PEER, report.WAYPOST or report.FLOOR
    start: Callable[[], AbstractContextManager[Any]]
    cache: str | None = None  # Waypost's map-read cache: "on" or "off"
    engine: str | None = None  # Waypost's engine: "ordinary" or "planned" (planned_reads)

    @property
    def label(self) -> str:
        return report.label(self.server, self.cache, self.engine)

    def serves(self, shape: Shape) -> bool:
        if self.server == report.FLOOR:
            return shape.floor
        return self.cache != "off" or shape.cache_off


# Workload (g) reads the trail of workspace 1, which no other workload writes ((c) edits
# workspace 0's maps, (d) ingests into workspaces 0 and 49), so that every run reads the
# same 100 events.
AUDIT_EVENTS = 100
TRAIL = 1  # the index of (g)'s workspace


def _shapes(world: seed.World, *, main: bool) -> list[Shape]:
    """(a) on every size; (b), (f) and (g) on the main one."""
    first = world.workspaces[0]
    maps = first.map_ids[:20]
    shapes = [
        Shape(
            "a",
            "nested map read",
            [workloads.map_read_body(m) for m in maps],
            [peers.map_request_body(first.id, m) for m in maps],
            workloads.canonical_map,
            peers.canonical_map,
            cache_off=True,
            floor=True,
        )
    ]
    if not main:
        return shapes
    every = [w.id for w in world.workspaces]
    some = every[:20]
    shapes += [
        Shape(
            "b",
            "workspace dashboard",
            [workloads.dashboard_body(w) for w in every],
            [peers.request_body(peers.DASHBOARD_QUERY, w) for w in every],
            workloads.canonical_dashboard,
            peers.canonical_dashboard,
            cache_off=True,
        ),
        Shape(
            "f",
            "feedback list",
            [workloads.feedback_list_body(w) for w in some],
            [peers.request_body(peers.FEEDBACK_QUERY, w) for w in some],
            workloads.canonical_feedback,
            peers.canonical_feedback,
        ),
        Shape(
            "g",
            "audit trail",
            [workloads.audit_trail_body(world.workspaces[TRAIL].id)],
            [peers.request_body(peers.AUDIT_QUERY, world.workspaces[TRAIL].id)],
            workloads.canonical_audit,
            peers.canonical_audit,
        ),
    ]
    return shapes


# ``--servers``' names for the side by side's candidates (PostGraphile always runs
# first: its answers are the reference the others are checked against).
SERVER_NAMES = {
    "postgraphile": report.label(report.PEER, None, None),
    "postgraphile-rls": report.label(report.PEER_RLS, None, None),
    "ordinary-on": report.label(report.WAYPOST, "on", "ordinary"),
    "planned-on": report.label(report.WAYPOST, "on", "planned"),
    "ordinary-off": report.label(report.WAYPOST, "off", "ordinary"),
    "planned-off": report.label(report.WAYPOST, "off", "planned"),
    "floor": report.label(report.FLOOR, None, None),
}


def _candidates(plan: Plan, world: seed.World) -> list[Candidate]:
    """PostGraphile first (its answers are the reference), then Waypost's four
    configurations (cache on/off x ordinary/planned engine), then the floor; only those
    ``plan.servers`` names when it names some."""
    every = _every_candidate(plan, world)
    if not plan.servers:
        return every
    chosen = {SERVER_NAMES[name] for name in plan.servers} | {SERVER_NAMES["postgraphile"]}
    return [c for c in every if c.label in chosen]


def _every_candidate(plan: Plan, world: seed.World) -> list[Candidate]:

    def waypost(cache: bool, planned: bool) -> Candidate:
        return Candidate(
            report.WAYPOST,
            lambda: servers.waypost_api(
                world.database_url,
                port=PORT,
                processes=plan.processes,
                cache=cache,
                planned=planned,
            ),
            cache="on" if cache else "off",
            engine="planned" if planned else "ordinary",
        )

    return [
        Candidate(
            report.PEER,
            lambda: peers.postgraphile_server(
                world.database_url, port=PORT, processes=plan.processes
            ),
        ),
        Candidate(
            report.PEER_RLS,
            lambda: peers.postgraphile_server(
                world.database_url, port=PORT, processes=plan.processes, rls_role=seed.APP_ROLE
            ),
        ),
        waypost(cache=True, planned=False),
        waypost(cache=True, planned=True),
        waypost(cache=False, planned=False),
        waypost(cache=False, planned=True),
        Candidate(
            report.FLOOR,
            lambda: servers.floor_server(world.database_url, port=PORT, processes=plan.processes),
        ),
    ]


def _side_by_side(plan: Plan, world: seed.World, results: Results, shapes: list[Shape]) -> None:
    """Each server in turn (never two at once) answers every shape it serves, checked
    against PostGraphile's answers, then is measured on each."""
    auth = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    json_only = {"Content-Type": "application/json"}
    # What the owner's token reaches, as a verified JWT would carry it to PostGraphile.
    claims = {**json_only, "X-Waypost-Workspaces": ",".join(str(w.id) for w in world.workspaces)}
    headers_of = {report.WAYPOST: auth, report.PEER_RLS: claims}
    peers.prepare_database(world.database_url)
    reference: dict[str, list[Any]] = {}
    for candidate in _candidates(plan, world):
        served = [shape for shape in shapes if candidate.serves(shape)]
        if not served:
            continue
        _say(f"{world.size}: {candidate.label}")
        peer = candidate.server == report.PEER
        theirs = candidate.server in (report.PEER, report.PEER_RLS)  # PostGraphile's schema
        headers = headers_of.get(candidate.server, json_only)
        with candidate.start() as server:
            url = server.url if server.url.endswith("/graphql") else f"{server.url}/graphql"
            for shape in served:
                bodies = shape.theirs if theirs else shape.ours
                answers = [_post(url, b, headers) for b in bodies]
                if peer:
                    reference[shape.workload] = [shape.canonical_theirs(a) for a in answers]
                    _check_complete(shape.workload, reference[shape.workload])
                else:
                    canonical = shape.canonical_theirs if theirs else shape.canonical_ours
                    got = [canonical(a) for a in answers]
                    _check_same(shape, candidate.label, got, reference[shape.workload])
                size = sum(len(json.dumps(a)) for a in answers) // len(answers)
                script = load.rotating_posts("/graphql", bodies, headers)
                _say(f"  ({shape.workload}) {shape.title}, {len(bodies)} requests in turn")
                for connections, run in _measure(plan, url, script, _pids_of(server)):
                    results.reads.append(
                        {
                            "workload": shape.workload,
                            "size": world.size,
                            "server": candidate.server,
                            "cache": candidate.cache,
                            "engine": candidate.engine,
                            "connections": connections,
                            "requests_in_turn": len(bodies),
                            "response_bytes": size,
                            **_figures(run),
                        }
                    )
                    _say(f"    {connections} connections: {run.per_second:.0f} req/s")


def _check_same(shape: Shape, label: str, got: list[Any], expected: list[Any]) -> None:
    """Fail the run unless every answer is, in canonical form, PostGraphile's."""
    for n, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        if ours != theirs:
            where, mine, peer = _difference(ours, theirs)
            raise SystemExit(
                f"({shape.workload}) {label} answers request {n} differently from "
                f"PostGraphile at {where}: {str(mine)[:300]} against {str(peer)[:300]}"
            )


def _difference(ours: Any, theirs: Any, path: str = "") -> tuple[str, Any, Any]:
    """Where two canonical answers first differ, and the two values there."""
    if isinstance(ours, dict) and isinstance(theirs, dict) and ours.keys() == theirs.keys():
        for key in ours:
            if ours[key] != theirs[key]:
                return _difference(ours[key], theirs[key], f"{path}.{key}")
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if a != b:
                return _difference(a, b, f"{path}[{n}]")
    return path or "the top", ours, theirs


def _pids_of(server: Any) -> Callable[[], list[int]]:
    """Our servers find their processes when asked (uvicorn forks); PostGraphile lists them."""
    if callable(server.pids):
        return server.pids  # type: ignore[no-any-return]
    return lambda: list(server.pids)


def _check_complete(workload: str, answers: list[dict[str, Any]]) -> None:
    """The reference answers hold what the workload is meant to read (a seeding or
    query mistake would otherwise compare, and measure, empty answers)."""
    for answer in answers:
        if workload == "a":
            points = [t for s in answer["stages"] for t in s["touchpoints"]]
            complete = bool(points) and all(t["health"] is not None for t in points)
        elif workload == "b":
            complete = answer["health"] is not None and all(
                m["health"] is not None for m in answer["maps"]
            )
            complete = complete and bool(answer["maps"])
        elif workload == "f":
            complete = len(answer["items"]) == 100 and all(
                i["touchpoint"] and i["journeyMap"] for i in answer["items"]
            )
        else:
            complete = len(answer["events"]) == AUDIT_EVENTS and any(
                e["actor"]["user"] for e in answer["events"]
            )
        if not complete:
            raise SystemExit(f"({workload}) the seeded world lacks what the workload reads")


PERSONA_CREATE = """mutation($input: CreatePersonaInput!) { createPersona(input: $input) {
  persona { id } errors { code message } } }"""
PERSONA_UPDATE = """mutation($input: UpdatePersonaInput!) { updatePersona(input: $input) {
  persona { id } errors { code message } } }"""


async def _audit_events(world: seed.World) -> int:
    connection = await asyncpg.connect(_dsn(world))
    try:
        found: int = await connection.fetchval(
            "SELECT count(*) FROM audit_events WHERE workspace_id = $1",
            world.workspaces[TRAIL].id,
        )
    finally:
        await connection.close()
    return found


def _audit_trail(plan: Plan, world: seed.World) -> None:
    """Give workspace TRAIL an audit trail of at least AUDIT_EVENTS events for workload (g),
    made the way any client makes them: a persona created, then renamed, through the API
    with the owner's token (events of actor API_TOKEN, with the user). Personas appear in
    no other workload. Once done, a reused database keeps them."""
    missing = AUDIT_EVENTS - asyncio.run(_audit_events(world))
    if missing <= 0:
        return
    _say(f"(g) {world.size}: {missing} audit events through the API, for the trail to read")
    auth = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    workspace = workloads.global_id("Workspace", world.workspaces[TRAIL].id)
    with servers.waypost_api(world.database_url, port=PORT, processes=1) as api:
        url = f"{api.url}/graphql"
        made = _post(
            url,
            workloads.body(
                PERSONA_CREATE, {"input": {"workspaceId": workspace, "name": "Bench auditor"}}
            ),
            auth,
        )
        payload = (made.get("data") or {}).get("createPersona") or {}
        if made.get("errors") or payload.get("errors") or not payload.get("persona"):
            raise SystemExit(f"creating the audit trail's persona failed: {str(made)[:500]}")
        persona = payload["persona"]["id"]
        for n in range(1, missing):
            name = f"Bench auditor {n}"
            answer = _post(
                url, workloads.body(PERSONA_UPDATE, {"input": {"id": persona, "name": name}}), auth
            )
            if answer.get("errors") or (answer.get("data") or {})["updatePersona"]["errors"]:
                raise SystemExit(f"renaming the audit trail's persona failed: {str(answer)[:500]}")
    if asyncio.run(_audit_events(world)) < AUDIT_EVENTS:
        raise SystemExit("the persona edits did not leave the audit events workload (g) reads")


async def _editable(world: seed.World, count: int) -> list[tuple[UUID, UUID, int]]:
    """(map, its first touchpoint, its version now) for ``count`` maps across workspaces.

    With fewer maps than connections, threads share maps and some edits conflict.
    """
    # Round the workspaces: map 0 of each, then map 1 of each, ...
    depth = max(len(w.map_ids) for w in world.workspaces)
    every = [w.map_ids[d] for d in range(depth) for w in world.workspaces if d < len(w.map_ids)]
    maps = every[:count]
    connection = await asyncpg.connect(_dsn(world))
    try:
        rows = await connection.fetch(
            """SELECT DISTINCT ON (t.journey_map_id) t.journey_map_id, t.id, m.version
            FROM touchpoints t JOIN journey_maps m
              ON m.workspace_id = t.workspace_id AND m.id = t.journey_map_id
            WHERE t.journey_map_id = ANY($1::uuid[])
            ORDER BY t.journey_map_id, t.id""",
            maps,
        )
    finally:
        await connection.close()
    found = {r["journey_map_id"]: (r["id"], r["version"]) for r in rows}
    return [(m, *found[m]) for m in maps]


MIXED_WRITE_SHARE = 0.2


def _mixed(plan: Plan, world: seed.World, results: Results) -> None:
    """Workload (c): 80 % map reads, 20 % renames with expectedVersion, cache on; by the
    ordinary engine, then the planned one. Then the edit alone (100 % renames, at the
    lowest connection count): what an edit costs, revision, audit event and outbox."""
    auth = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    for planned in (False, True):
        engine = "planned" if planned else "ordinary"
        _say(f"(c) {world.size}: mixed session, {engine} engine")
        with servers.waypost_api(
            world.database_url, port=PORT, processes=plan.processes, planned=planned
        ) as api:
            url = f"{api.url}/graphql"
            mixes = [(c, MIXED_WRITE_SHARE) for c in plan.connections]
            for connections, write_share in [*mixes, (min(plan.connections), 1.0)]:
                runs = []
                for _ in range(plan.repeats):
                    # Fresh versions before each run, once the last run's edits are done.
                    _wait_idle(api.pids)
                    maps = asyncio.run(_editable(world, connections))
                    script = load.mixed_session(
                        "/graphql",
                        [workloads.map_read_body(m) for m, _, _ in maps],
                        [(workloads.global_id("Touchpoint", t), "Edited", v) for _, t, v in maps],
                        auth,
                        write_share=write_share,
                        edit_template=workloads.rename_template(),
                    )
                    runs.append(
                        load.wrk(
                            url,
                            script,
                            connections=connections,
                            seconds=plan.seconds,
                            threads=connections,
                            groups=_groups(api.pids),
                        )
                    )
                run = load.median_run(runs)
                results.mixed.append(
                    {
                        "engine": engine,
                        "cache": "on",
                        "connections": connections,
                        "write_share": write_share,
                        **_figures(run),
                    }
                )
                _say(
                    f"    {connections} connections, {write_share:.0%} edits: "
                    f"{run.per_second:.0f} req/s, {run.errors} errors"
                )


def _ingestion(plan: Plan, world: seed.World, results: Results) -> None:
    """Workload (d): the bulk import and HTTP ingestion into Postgres."""
    _say(f"(d) {world.size}: bulk import of {plan.import_rows:,} rows")
    workspace = world.workspaces[-1].id  # the last one: (a) reads workspace 0's maps
    rates = []
    for _ in range(plan.repeats):
        started = datetime.now(UTC)
        rates.append(
            asyncio.run(
                ingest.bulk_import_rate(world.database_url, workspace, plan.import_rows, OUT)
            )
        )
        asyncio.run(_forget_ingested(world, started))
    results.ingestion["bulk"] = _rate_figures(rates)
    _say(f"    {results.ingestion['bulk']['per_second']:,.0f} rows/s")
    _say(f"(d) {world.size}: HTTP ingestion, {plan.http_batches} batches of 1,000")
    started = datetime.now(UTC)
    with servers.waypost_api(world.database_url, port=PORT, processes=plan.processes) as api:
        names = asyncio.run(
            ingest.workspace_event_names(world.database_url, world.workspaces[0].id)
        )
        rates = [
            asyncio.run(
                ingest.http_ingestion_rate(
                    api.url,
                    world.ingestion_token,
                    batches=plan.http_batches,
                    concurrency=4,
                    event_names=names[:200],
                )
            )
            for _ in range(plan.repeats)
        ]
    asyncio.run(_forget_ingested(world, started))
    results.ingestion["http"] = _rate_figures(rates)
    _say(f"    {results.ingestion['http']['per_second']:,.0f} items/s")


async def _forget_ingested(world: seed.World, since: datetime) -> None:
    """Delete the feedback a run ingested, so that every import (and the next run) meets
    the table as seeded, 1M rows, rather than one that grew by each earlier import."""
    connection = await asyncpg.connect(_dsn(world))
    try:
        await connection.execute("DELETE FROM feedback WHERE received_at >= $1", since)
        await connection.execute("DELETE FROM health_requests")
        await connection.execute("VACUUM (ANALYZE) feedback, health_requests")
    finally:
        await connection.close()


def _rate_figures(rates: list[ingest.Rate]) -> dict[str, Any]:
    return {
        "rows": rates[0].rows,
        "per_second": round(statistics.median(r.per_second for r in rates)),
        "min": round(min(r.per_second for r in rates)),
        "max": round(max(r.per_second for r in rates)),
    }


def _health(plan: Plan, world: seed.World, results: Results) -> None:
    """Workload (e): a full pass of every workspace, and feedback-to-health latency."""
    _say(f"(e) {world.size}: full recalculation, one workspace after another in one process")
    passes = []
    for _ in range(plan.repeats):
        # This machine's Postgres runs without autovacuum, which in production clears a
        # pass's dead rows long before the next night's: each timed pass starts so.
        asyncio.run(vacuum(world, CHURNED))
        passes.append(asyncio.run(seed.full_recalculation(world)))
    results.health["full_pass_in_process_seconds"] = _spread(passes, world)
    _say(f"    {statistics.median(passes):.2f} s")
    # What seeding and the workloads before left pending (an alert for each subject the
    # seeding pass found below its threshold, some 71,000 at medium; a recalculation for
    # each edit of (c)) would be relayed through the timed passes and queued ahead of
    # the feedback whose way to health is timed: the pipeline starts idle, as a night's.
    settled = asyncio.run(settle_outbox(world))
    _say(f"(e) {world.size}: {settled} outbox events left pending marked processed")
    # A world measured before in this period holds its claim on the nightly pass: the
    # starting workers would skip the pass the bench waits for.
    asyncio.run(_forget_schedule_claims(world))
    with servers.waypost_api(world.database_url, port=PORT, processes=plan.processes) as api:
        _flush_bench_redis()  # the API's start-up scheduling; the worker starts clean
        before = asyncio.run(_generations(world))
        with contextlib.ExitStack() as workers:
            # As many worker processes as the API has; each works 4 messages at once.
            for _ in range(plan.processes):
                workers.enter_context(servers.waypost_worker(world.database_url))
            # A starting worker runs the nightly full pass at once: measure after it.
            asyncio.run(_until_passed(world, before))
            _say(f"(e) {world.size}: the nightly full pass, {plan.processes} `waypost worker`s")
            nightly = [_nightly_pass(world) for _ in range(plan.repeats)]
            results.health["full_pass_seconds"] = _spread(nightly, world)
            _say(f"    {statistics.median(nightly):.2f} s")
            _say(f"(e) {world.size}: feedback accepted -> health, {plan.e2e_samples} samples")
            latencies = asyncio.run(_feedback_to_health(api.url, world, plan.e2e_samples))
    ordered = sorted(latencies)
    results.health["feedback_to_health_seconds"] = {
        "samples": len(ordered),
        "p50": round(statistics.median(ordered), 3),
        "p95": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 3),
        "max": round(ordered[-1], 3),
    }
    _say(f"    p50 {statistics.median(ordered):.2f} s, max {ordered[-1]:.2f} s")


def _spread(seconds: list[float], world: seed.World) -> dict[str, Any]:
    return {
        "median": round(statistics.median(seconds), 2),
        "min": round(min(seconds), 2),
        "max": round(max(seconds), 2),
        "workspaces": len(world.workspaces),
        "feedback": world.feedback_rows,
    }


def _nightly_pass(world: seed.World) -> float:
    """Seconds from enqueueing every workspace's full pass (what the schedule does each
    night) until the running worker has finished the last of them."""
    from workers.actors import declare_actors
    from workers.broker import build_broker

    asyncio.run(vacuum(world, CHURNED))  # as before the in-process passes
    before = asyncio.run(_generations(world))
    broker = build_broker(servers.BENCH_REDIS)
    try:
        actor = declare_actors(broker).recalculate_all_health
        started = time.perf_counter()
        for workspace in world.workspaces:
            actor.send(str(workspace.id))
        asyncio.run(_until_passed(world, before, poll=0.05))
        return time.perf_counter() - started
    finally:
        broker.close()


async def _generations(world: seed.World) -> dict[UUID, int]:
    connection = await asyncpg.connect(_dsn(world))
    try:
        rows = await connection.fetch("SELECT workspace_id, generation FROM health_generations")
    finally:
        await connection.close()
    return {r["workspace_id"]: r["generation"] for r in rows}


async def _until_passed(world: seed.World, before: dict[UUID, int], *, poll: float = 1.0) -> None:
    """Until every workspace has had a health pass since ``before`` (at most 10 minutes)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        now = await _generations(world)
        if all(now.get(w.id, 0) > before.get(w.id, 0) for w in world.workspaces):
            return
        await asyncio.sleep(poll)
    raise SystemExit("the worker's start-up health pass did not finish in 10 minutes")


# Every health pass rewrites its workspace's rows; a reused database carries the dead
# tuples of the last run's passes until autovacuum comes, and reads pay for them.
CHURNED = ("health_scores", "health_snapshots", "health_evidence", "health_generations")
CHANGED = ("journey_maps", "touchpoints", "journey_map_revisions", "feedback", "outbox_events")


async def vacuum(world: seed.World, tables: tuple[str, ...] = CHURNED + CHANGED) -> None:
    connection = await asyncpg.connect(_dsn(world))
    try:
        await connection.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    finally:
        await connection.close()


async def settle_outbox(world: seed.World) -> int:
    """Mark every pending outbox event processed; how many there were."""
    connection = await asyncpg.connect(_dsn(world))
    try:
        done = await connection.execute(
            "UPDATE outbox_events SET processed_at = now() WHERE processed_at IS NULL"
        )
    finally:
        await connection.close()
    return int(done.split()[-1])


async def _forget_schedule_claims(world: seed.World) -> None:
    connection = await asyncpg.connect(_dsn(world))
    try:
        await connection.execute("DELETE FROM schedule_claims")
    finally:
        await connection.close()


def _flush_bench_redis() -> None:
    import redis

    redis.Redis.from_url(servers.BENCH_REDIS).flushdb()


async def _feedback_to_health(base_url: str, world: seed.World, samples: int) -> list[float]:
    connection = await asyncpg.connect(_dsn(world))
    headers = {"Authorization": f"Bearer {world.ingestion_token}"}
    latencies = []
    try:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
            for n in range(samples + 1):  # the first one starts the worker's connections
                before = await connection.fetchval(
                    "SELECT computed_at FROM health_scores WHERE id = $1", world.hot_touchpoint_id
                )
                item = {
                    "source": "SURVEY",
                    "externalId": f"e2e-{uuid4().hex}",
                    "measure": "CSAT",
                    "measureValue": 1 + n % 5,
                    "text": "The checkout was quick",
                    "eventName": world.hot_event_name,
                    "occurredAt": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                response = await http.post("/ingest/v1/feedback", json=[item])
                response.raise_for_status()
                if response.json().get("accepted") != 1:
                    raise SystemExit(f"the e2e item was not accepted: {response.text[:300]}")
                accepted = time.perf_counter()
                while True:
                    now = await connection.fetchval(
                        "SELECT computed_at FROM health_scores WHERE id = $1",
                        world.hot_touchpoint_id,
                    )
                    if now != before:
                        break
                    if time.perf_counter() - accepted > 60:
                        raise SystemExit("health did not follow the feedback within 60 s")
                    await asyncio.sleep(0.01)
                if n:
                    latencies.append(time.perf_counter() - accepted)
                await asyncio.sleep(1.0)  # apart, so that passes are not coalesced
    finally:
        await connection.close()
    return latencies


def execute(plan: Plan, *, write_docs: bool) -> Results:
    load.require_wrk()
    peers.install()
    OUT.mkdir(exist_ok=True)
    results = Results(
        plan=asdict(plan),
        machine=_machine(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    for size in plan.sizes:
        _say(f"seeding {size}")
        world = asyncio.run(seed.seed(size))
        results.sizes[size] = {
            "workspaces": len(world.workspaces),
            "maps": sum(len(w.map_ids) for w in world.workspaces),
            "touchpoints": world.touchpoints,
            "feedback": world.feedback_rows,
            "seeded_seconds": round(world.seeded_seconds, 1),
        }
        main = size == plan.main_size
        if main:
            _audit_trail(plan, world)
        # What seeding left pending (an alert for each subject below its threshold, some
        # 71,000 at medium) each Waypost server started below would relay to the broker,
        # on its own CPU, while it is measured: PostGraphile relays nothing.
        settled = asyncio.run(settle_outbox(world))
        _flush_bench_redis()
        _say(f"{size}: {settled} outbox events left pending marked processed")
        asyncio.run(vacuum(world))
        shapes = [s for s in _shapes(world, main=main) if s.workload in plan.workloads]
        if shapes:
            _side_by_side(plan, world, results, shapes)
        if main and "c" in plan.workloads:
            _mixed(plan, world, results)
        if main and "e" in plan.workloads:
            _health(plan, world, results)
        if main and "d" in plan.workloads:
            _ingestion(plan, world, results)
        _save(results)
    if write_docs:
        report.rewrite(
            Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md", asdict(results)
        )
    return results


def _save(results: Results) -> None:
    (OUT / "results.json").write_text(json.dumps(asdict(results), indent=2, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", default="10,50")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 x 3 s runs, small inputs")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument(
        "--workloads", default="abcdefg", help="a focused run: these workloads only, e.g. bf"
    )
    parser.add_argument(
        "--servers",
        default="",
        help=f"a focused run: these servers only, of {', '.join(SERVER_NAMES)} (comma-separated)",
    )
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    servers = frozenset(filter(None, args.servers.split(",")))
    if unknown := servers - SERVER_NAMES.keys():
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    workloads = frozenset(args.workloads)
    if unknown := workloads - set("abcdefg"):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    focused = bool(servers) or workloads != set("abcdefg")
    plan = Plan(
        sizes=sizes,
        seconds=3.0 if args.quick else args.seconds,
        repeats=1 if args.quick else args.repeats,
        connections=[int(c) for c in args.connections.split(",")],
        processes=args.processes,
        warmup=2.0 if args.quick else 5.0,
        import_rows=20_000 if args.quick else 200_000,
        http_batches=10 if args.quick else 60,
        e2e_samples=5 if args.quick else 20,
        main_size="medium" if "medium" in sizes else sizes[-1],
        workloads=workloads,
        servers=servers,
    )
    # The tables in docs/benchmarks.md are whole runs only.
    execute(plan, write_docs=not (args.no_docs or focused))


if __name__ == "__main__":
    main()
