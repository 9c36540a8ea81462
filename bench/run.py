"""`make bench`: seed, serve, load, compare, and rewrite the tables in docs/benchmarks.md.

    .venv/bin/python -m bench.run                      # small, medium, large; 3 x 10 s runs
    .venv/bin/python -m bench.run --sizes small --quick  # a smoke run of every step

For each size, workload (a) is served in turn (never two servers at once) by Waypost
with its map-read cache, Waypost with the cache off, PostGraphile v5 and the asyncpg
floor, each with the same number of processes; before any load, every map the load
will read is fetched from each server and compared row for row with PostGraphile's
answer. Each figure is the median of ``--repeats`` wrk runs of ``--seconds`` after a
warm-up, at each connection count. On the main size (medium) it also measures the
dashboard (b), a mixed read/write session (c), ingestion (d) and health (e).
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
PORT = 8711


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


@dataclass
class Results:
    plan: dict[str, Any]
    machine: dict[str, Any]
    started_at: str
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: list[dict[str, Any]] = field(default_factory=list)
    dashboard: list[dict[str, Any]] = field(default_factory=list)
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


def _reads(plan: Plan, world: seed.World, results: Results) -> None:
    """Workload (a) on one size, by every server in turn."""
    workspace = world.workspaces[0]
    maps = workspace.map_ids[:20]
    auth = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    json_only = {"Content-Type": "application/json"}
    peers.prepare_database(world.database_url)
    ours = [workloads.map_read_body(m) for m in maps]
    theirs = [peers.map_request_body(workspace.id, m) for m in maps]

    candidates: list[
        tuple[str, Callable[[], AbstractContextManager[Any]], list[bytes], dict[str, str]]
    ] = [
        (
            "PostGraphile v5",
            lambda: peers.postgraphile_server(
                world.database_url, port=PORT, processes=plan.processes
            ),
            theirs,
            json_only,
        ),
        (
            "Waypost",
            lambda: servers.waypost_api(world.database_url, port=PORT, processes=plan.processes),
            ours,
            auth,
        ),
        (
            "Waypost, cache off",
            lambda: servers.waypost_api(
                world.database_url, port=PORT, processes=plan.processes, cache=False
            ),
            ours,
            auth,
        ),
        (
            "asyncpg floor",
            lambda: servers.floor_server(world.database_url, port=PORT, processes=plan.processes),
            ours,
            json_only,
        ),
    ]
    reference: list[dict[str, Any]] = []
    for name, start, bodies, headers in candidates:
        _say(f"(a) {world.size}: {name}")
        with start() as server:
            url = server.url if server.url.endswith("/graphql") else f"{server.url}/graphql"
            answers = [_post(url, b, headers) for b in bodies]
            if name.startswith("PostGraphile"):
                reference = [peers.canonical_map(a) for a in answers]
                _check_complete(reference)
            else:
                for got, expected in zip(answers, reference, strict=True):
                    if workloads.canonical_map(got) != expected:
                        raise SystemExit(f"{name} answers differently from PostGraphile")
            size = sum(len(json.dumps(a)) for a in answers) // len(answers)
            script = load.rotating_posts("/graphql", bodies, headers)
            for connections, run in _measure(plan, url, script, _pids_of(server)):
                results.reads.append(
                    {
                        "size": world.size,
                        "server": name,
                        "connections": connections,
                        "response_bytes": size,
                        **_figures(run),
                    }
                )
                _say(f"    {connections} connections: {run.per_second:.0f} req/s")


def _pids_of(server: Any) -> Callable[[], list[int]]:
    """Our servers find their processes when asked (uvicorn forks); PostGraphile lists them."""
    if callable(server.pids):
        return server.pids  # type: ignore[no-any-return]
    return lambda: list(server.pids)


def _check_complete(maps: list[dict[str, Any]]) -> None:
    for journey in maps:
        points = [t for s in journey["stages"] for t in s["touchpoints"]]
        if not points or any(t["health"] is None for t in points):
            raise SystemExit("the seeded maps should have touchpoints, each with a health score")


def _dashboard(plan: Plan, world: seed.World, results: Results) -> None:
    """Workload (b): every workspace's dashboard in turn."""
    _say(f"(b) {world.size}: dashboards")
    auth = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    bodies = [workloads.dashboard_body(w.id) for w in world.workspaces]
    with servers.waypost_api(world.database_url, port=PORT, processes=plan.processes) as api:
        answer = _post(f"{api.url}/graphql", bodies[0], auth)
        edges = answer.get("data", {}).get("workspace", {}).get("journeyMaps", {}).get("edges")
        if answer.get("errors") or not edges:
            raise SystemExit(f"the dashboard query failed: {str(answer)[:500]}")
        script = load.rotating_posts("/graphql", bodies, auth)
        for connections, run in _measure(plan, f"{api.url}/graphql", script, api.pids):
            results.dashboard.append({"connections": connections, **_figures(run)})
            _say(f"    {connections} connections: {run.per_second:.0f} req/s")


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


def _mixed(plan: Plan, world: seed.World, results: Results) -> None:
    """Workload (c): 80 % map reads, 20 % renames with expectedVersion, cache on."""
    _say(f"(c) {world.size}: mixed session")
    auth = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    with servers.waypost_api(world.database_url, port=PORT, processes=plan.processes) as api:
        url = f"{api.url}/graphql"
        for connections in plan.connections:
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
                    write_share=0.2,
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
            results.mixed.append({"connections": connections, **_figures(run)})
            _say(f"    {connections} connections: {run.per_second:.0f} req/s, {run.errors} errors")


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
        asyncio.run(_vacuum(world, CHURNED))
        passes.append(asyncio.run(seed.full_recalculation(world)))
    results.health["full_pass_in_process_seconds"] = _spread(passes, world)
    _say(f"    {statistics.median(passes):.2f} s")
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

    asyncio.run(_vacuum(world, CHURNED))  # as before the in-process passes
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


async def _vacuum(world: seed.World, tables: tuple[str, ...] = CHURNED + CHANGED) -> None:
    connection = await asyncpg.connect(_dsn(world))
    try:
        await connection.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
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
        asyncio.run(_vacuum(world))
        _reads(plan, world, results)
        if size == plan.main_size:
            _dashboard(plan, world, results)
            _mixed(plan, world, results)
            _health(plan, world, results)
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
    args = parser.parse_args()
    sizes = args.sizes.split(",")
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
    )
    execute(plan, write_docs=not args.no_docs)


if __name__ == "__main__":
    main()
