"""A workload's read through the real schema in process (no HTTP), the response cache out
of the way: the map read by default, or the dashboard, the feedback list, the audit trail.

    .venv/bin/python -m bench.inproc_map_read [--n 30] [--profile] [--engine | --compare]
        [--workload map|dashboard|feedback|audit]

Reads the medium world's description (WAYPOST_WORLD, default the seeded medium world's
file in bench/.out), signs the world's owner in once (a read:
no last-use stamp is written), then executes the document N times through
``schema.execute``, each with a fresh Context (fresh DataLoaders), on the app role.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request

from backend.auth.oidc import OidcClient
from backend.auth.service import find_live_token
from backend.auth.tokens import hash_secret
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.settings import Settings
from bench import seed
from bench.run import vacuum
from bench.seed import APP_ROLE, World
from bench.workloads import AUDIT_TRAIL, DASHBOARD, FEEDBACK_LIST, MAP_READ, global_id
from graphql_schema.context import Context
from graphql_schema.schema import build_schema

WORLD = Path(os.environ.get("WAYPOST_WORLD", str(seed.world_file("medium"))))


def _request(token: str) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "query_string": b"",
        "state": {},
    }
    return Request(scope)


class Harness:
    def __init__(self, world: World, *, engine: bool = False) -> None:
        self.world = world
        self.settings = Settings(
            database_url=world.database_url, map_read_cache_mb=0, planned_reads=engine
        )
        self.db = Database(world.database_url, app_role=APP_ROLE, pool_size=2)
        self.schema = build_schema(self.settings)
        self.oidc = OidcClient(self.settings)
        self.access: Access | None = None

    async def sign_in(self) -> None:
        token = self.world.api_token
        async with self.db.connection(TenantBinding(secret_hash=hash_secret(token))) as conn:
            live = await find_live_token(conn, token, datetime.now(UTC))
        assert live is not None, "the world's token is not live"
        self.access = await load_access(self.db, live.subject)

    def context(self) -> Context:
        context = Context(
            request=_request(self.world.api_token),
            response=None,
            db=self.db,
            settings=self.settings,
            oidc=self.oidc,
            request_id="inproc",
        )
        assert self.access is not None
        context.sign_in(self.access)  # as a cached map read's look-up would have
        return context

    async def run(self, query: str, variables: dict[str, Any], name: str | None = None) -> Any:
        result = await self.schema.execute(
            query, variable_values=variables, context_value=self.context(), operation_name=name
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        return out


def canonical(response: Any) -> str:
    # orjson, as the server encodes: a subtree Postgres wrote is a pre-encoded fragment.
    return orjson.dumps(response, default=str).decode()


async def variations(world: World, index: int) -> None:
    """Every document of bench.planned_variations, both ways: identical answers?"""
    from bench.planned_variations import VARIATIONS
    from graphql_schema import engine

    ordinary, planned = Harness(world), Harness(world, engine=True)
    for harness in (ordinary, planned):
        await harness.sign_in()
    map_ids = [world.workspaces[0].map_ids[index], world.workspaces[-1].map_ids[0]]
    for name, (query, extra) in VARIATIONS.items():
        for map_id in map_ids:
            variables = {"id": global_id("JourneyMap", map_id), **extra}
            before = dict(engine.COUNTS)
            a = canonical(await ordinary.run(query, variables))
            b = canonical(await planned.run(query, variables))
            counts = {k: v - before.get(k, 0) for k, v in engine.COUNTS.items()}
            counts = {k: v for k, v in counts.items() if v}
            verdict = "identical" if a == b else "DIFFERENT"
            print(f"{verdict:9} {len(a):6} bytes  {name} ({str(map_id)[:8]}) {counts}")
            assert a == b, (a[:2000], b[:2000])
    for harness in (ordinary, planned):
        await harness.db.dispose()


def _summary(label: str, wall: list[float], cpu: list[float]) -> str:
    mean = sum(cpu) / len(cpu)  # with the collections, which the median leaves out
    wall, cpu = sorted(wall), sorted(cpu)
    mid = len(wall) // 2
    return (
        f"{label}: wall median {1000 * wall[mid]:.1f} ms (min {1000 * wall[0]:.1f}),"
        f" CPU median {1000 * cpu[mid]:.1f} ms (min {1000 * cpu[0]:.1f}, mean {1000 * mean:.1f})"
    )


# name -> (document, operation name, whether its variable is the map's id, else the workspace's)
WORKLOADS = {
    "map": (MAP_READ, "MapRead", True),
    "dashboard": (DASHBOARD, "Dashboard", False),
    "feedback": (FEEDBACK_LIST, "FeedbackList", False),
    "audit": (AUDIT_TRAIL, "AuditTrail", False),
}


async def _timed(
    harness: Harness, variables: dict[str, Any], workload: str = "map"
) -> tuple[float, float]:
    document, name, _ = WORKLOADS[workload]
    wall, cpu = time.perf_counter(), time.process_time()
    result = await harness.run(document, variables, name)
    assert "errors" not in result, result
    return time.perf_counter() - wall, time.process_time() - cpu


async def main(world: World) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--engine", action="store_true", help="only the planned executor")
    parser.add_argument("--compare", action="store_true", help="both, alternating")
    parser.add_argument("--map", type=int, default=0)
    parser.add_argument("--variations", action="store_true", help="compare, then stop")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="map")
    parser.add_argument("--no-vacuum", action="store_true", help="keep the tables' statistics")
    args = parser.parse_args()
    if not args.no_vacuum:
        # This machine's Postgres runs without autovacuum: a freshly seeded world's health
        # scores had no statistics at all, and their statement took 85 ms instead of 8.
        await vacuum(world)
    if args.variations:
        await variations(world, args.map)
        return
    kinds = [False, True] if args.compare else [args.engine]
    harnesses = {kind: Harness(world, engine=kind) for kind in kinds}
    for harness in harnesses.values():
        await harness.sign_in()
    document, name, of_map = WORKLOADS[args.workload]
    map_id = world.workspaces[0].map_ids[args.map]
    variables = {
        "id": global_id("JourneyMap", map_id)
        if of_map
        else global_id("Workspace", world.workspaces[0].id)
    }
    answers = {
        kind: canonical(await h.run(document, variables, name)) for kind, h in harnesses.items()
    }
    if args.compare:
        assert answers[False] == answers[True], "the planned answer differs"
        print("answers identical (as encoded)")
    if of_map:
        first = json.loads(answers[kinds[0]])
        stages = first["data"]["journeyMap"]["stages"]
        tps = [t for s in stages for t in s["touchpoints"]]
        pains = sum(len(t["painPoints"]) for t in tps)
        print(
            f"map {map_id}: {len(stages)} stages, {len(tps)} touchpoints, {pains} pain points,"
            f" {len(answers[kinds[0]])} bytes"
        )
    else:
        print(f"{args.workload}: {len(answers[kinds[0]])} bytes")
    for harness in harnesses.values():
        for _ in range(3):
            await _timed(harness, variables, args.workload)
    # As the server does once started: what start-up built is out of the collector's
    # sight, so a full collection scans only what requests leave behind.
    gc.collect()
    gc.freeze()
    profiler = cProfile.Profile() if args.profile else None
    walls: dict[bool, list[float]] = {kind: [] for kind in kinds}
    cpus: dict[bool, list[float]] = {kind: [] for kind in kinds}
    for _ in range(args.n):
        for kind, harness in harnesses.items():
            if profiler:
                profiler.enable()
            wall, cpu = await _timed(harness, variables, args.workload)
            if profiler:
                profiler.disable()
            walls[kind].append(wall)
            cpus[kind].append(cpu)
    for kind in kinds:
        label = "planned " if kind else "ordinary"
        print(
            _summary(
                f"n={args.n} {label}{' (profiled)' if profiler else ''}", walls[kind], cpus[kind]
            )
        )
    if profiler:
        out = Path(os.environ.get("PROFILE_OUT", "bench/.out/map_read.prof"))
        profiler.dump_stats(out)
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(
            int(os.environ.get("PROFILE_N", "20"))
        )
    for harness in harnesses.values():
        await harness.db.dispose()


if __name__ == "__main__":
    asyncio.run(main(World.from_json(WORLD.read_text())))
