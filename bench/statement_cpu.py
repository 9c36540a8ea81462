"""A workload's one statement, its Postgres CPU on one connection as the app role.

    .venv/bin/python -m bench.statement_cpu [--workload feedback] [--n 60] [--rounds 15]
        [--against CHECKOUT] [--explain]

The planned engine answers (b), (f) and (g) with one statement Postgres writes whole.
This takes that statement as this checkout writes it (and, with ``--against``, as
another checkout writes it: run there by its own code on the same world), then, on one
asyncpg connection set to ``waypost_app`` with the owner's workspaces bound as a request
binds them, runs each in turn: ``rounds`` rounds of ``n`` executions each, the
workspaces of the world in turn, the statements interleaved round by round so that
the machine's drift falls on both. CPU is the backend's own (utime + stime from
``/proc``); the answers are checked equal first. ``--explain`` prints each one's
``EXPLAIN (ANALYZE, BUFFERS)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from bench.inproc_map_read import WORKLOADS, WORLD
from bench.run import TRAIL
from bench.seed import APP_ROLE, World

_TICK = os.sysconf("SC_CLK_TCK")

# Run in the checkout measured (its own engine, on the same world): the statement its
# planned engine sends for the workload, and its binding's workspaces.
_CAPTURE = """
import asyncio, json, sys
from sqlalchemy import event
from bench.inproc_map_read import WORLD, WORKLOADS, Harness
from bench.seed import World
from bench.workloads import global_id

async def main(workload):
    world = World.from_json(WORLD.read_text())
    harness = Harness(world, engine=True)
    await harness.sign_in()
    seen = []
    event.listen(harness.db.engine.sync_engine, "before_cursor_execute",
                 lambda c, cur, sql, params, ctx, many: seen.append((sql, params)))
    document, name, of_map = WORKLOADS[workload]
    target = ("JourneyMap", world.workspaces[0].map_ids[0]) if of_map else (
        "Workspace", world.workspaces[0].id)
    await harness.run(document, {"id": global_id(*target)}, name)
    await harness.db.dispose()
    bound = next(p for s, p in seen if "set_config" in s)[1]
    sql, params = next((s, p) for s, p in seen
                       if "json_build_object" in s or s.startswith("SELECT ('{"))
    # Past the target: what else the statement takes (the caller's administered
    # workspaces, for an admins-only listing), as the request passed it.
    rest = [[str(v) for v in p] if isinstance(p, (list, tuple)) else str(p) for p in params[2:]]
    print(json.dumps({"sql": sql, "bound": bound, "parameters": [str(params[1])], "rest": rest}))

asyncio.run(main(sys.argv[1]))
"""


def capture(checkout: Path, workload: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "WAYPOST_WORLD": str(WORLD.resolve())}
    out = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", _CAPTURE, workload],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    captured: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return captured


def _arguments(rest: list[Any]) -> list[Any]:
    """The captured extra parameters as asyncpg takes them (uuid texts become UUIDs)."""

    def value(v: Any) -> Any:
        if isinstance(v, list):
            return [value(x) for x in v]
        try:
            return UUID(v)
        except ValueError:
            return v

    return [value(v) for v in rest]


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _targets(world: World, workload: str) -> list[UUID]:
    if workload == "audit":  # (g)'s trail: the one workspace whose 100 events it reads
        return [world.workspaces[TRAIL].id]
    if WORKLOADS[workload][2]:
        return [w.map_ids[0] for w in world.workspaces[:20]]
    return [w.id for w in world.workspaces[:20]]


async def measure(
    world: World, statements: dict[str, dict[str, Any]], workload: str, args: Any
) -> None:
    connection = await asyncpg.connect(world.database_url.replace("+asyncpg", ""))
    try:
        await connection.execute(f"SET ROLE {APP_ROLE}")
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        bound = next(iter(statements.values()))["bound"]
        workspaces = [UUID(w) for w in bound.split(",")]
        targets = _targets(world, workload)
        prepared = {name: await connection.prepare(s["sql"]) for name, s in statements.items()}
        rest = {name: _arguments(s.get("rest", [])) for name, s in statements.items()}
        answers = {}
        async with connection.transaction():
            await connection.execute("SELECT set_config('waypost.workspace_ids', $1, true)", bound)
            for name, statement in prepared.items():
                answers[name] = json.loads(
                    await statement.fetchval(workspaces, targets[0], *rest[name])
                )
                if args.explain:
                    plan = await connection.fetch(
                        f"EXPLAIN (ANALYZE, BUFFERS) {statements[name]['sql']}",
                        workspaces,
                        targets[0],
                        *rest[name],
                    )
                    print(f"--- {name}\n" + "\n".join(row[0] for row in plan))
        first = next(iter(answers.values()))
        assert all(a == first for a in answers.values()), "the statements answer differently"
        cpu: dict[str, list[float]] = {name: [] for name in prepared}
        wall: dict[str, list[float]] = {name: [] for name in prepared}
        for _ in range(args.rounds):
            for name, statement in prepared.items():
                async with connection.transaction():
                    await connection.execute(
                        "SELECT set_config('waypost.workspace_ids', $1, true)", bound
                    )
                    for n in range(5):  # a generic plan settles after five
                        await statement.fetchval(workspaces, targets[n % len(targets)], *rest[name])
                    started, began = _cpu(pid), time.perf_counter()
                    for n in range(args.n):
                        await statement.fetchval(workspaces, targets[n % len(targets)], *rest[name])
                    cpu[name].append(1000 * (_cpu(pid) - started) / args.n)
                    wall[name].append(1000 * (time.perf_counter() - began) / args.n)
        for name in prepared:
            c, w = sorted(cpu[name]), sorted(wall[name])
            print(
                f"{name:10} Postgres CPU per statement: median {c[len(c) // 2]:.2f} ms"
                f" (min {c[0]:.2f}, max {c[-1]:.2f}); wall median {w[len(w) // 2]:.2f} ms"
            )
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    workloads = ["map", "dashboard", "feedback", "audit"]
    parser.add_argument("--workload", choices=workloads, default="feedback")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--against", type=Path, help="another checkout, measured alongside")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    world = World.from_json(WORLD.read_text())
    here = Path(__file__).resolve().parent.parent
    statements = {"this": capture(here, args.workload)}
    if args.against is not None:
        statements["against"] = capture(args.against.resolve(), args.workload)
    asyncio.run(measure(world, statements, args.workload, args))


if __name__ == "__main__":
    main()
