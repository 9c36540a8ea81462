"""The nightly full health pass at medium, an older checkout against this one, in one run.

    .venv/bin/python -m bench.nightly_side_by_side --base /work/wt/base [--rounds 3]

Each checkout gets its own medium world (the health tables differ between versions):
its own ``bench.seed``, run with its own Python in its own directory, builds it in
``waypost_bench_medium_<label>`` (reused while valid, like any seeded world), with the
world file in this checkout's ``bench/.out``; outbox events its seeding left pending are
marked processed, as a world starts with none. Each checkout's two ``waypost worker``
processes (as ``make bench`` runs them) start from its own virtualenv, on Redis
databases of their own (10 and 11), and stay up throughout. After one untimed pass each,
the passes alternate, base then this checkout, ``--rounds`` times, each timed as
``bench/run.py`` times (e): every workspace's ``health.recalculate_all`` enqueued,
until every workspace's ``health_generations`` moved. A pass waits while a CI run
(``.ci/run``) is going on, so that its figures are not skewed by one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench import load, run, seed, servers

HERE = Path(__file__).resolve().parent.parent
WORKERS = 2  # as `make bench` runs (e)
# Seeds a world with the checkout's own seeder under the name and file given.
SEED = """
import asyncio, logging, sys
from pathlib import Path
from bench import seed
name, path = sys.argv[1], Path(sys.argv[2])
seed.database_name = lambda size: name
seed.world_file = lambda size: path
logging.basicConfig(level=logging.INFO, format="  %(message)s")
logging.getLogger("alembic").setLevel(logging.WARNING)
asyncio.run(seed.seed("medium"))
"""


@dataclass
class Checkout:
    label: str
    root: Path
    redis: str
    passes: list[float] = field(default_factory=list)
    cpu: list[tuple[float, float]] = field(default_factory=list)  # workers', Postgres's

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    @property
    def commit(self) -> str:
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    @property
    def world_file(self) -> Path:
        return seed.OUT_DIR / f"world-medium-{self.label}.json"


def _say(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def _seeded(checkout: Checkout) -> seed.World:
    """The checkout's medium world, seeded (or found valid) by its own seeder."""
    seed.OUT_DIR.mkdir(parents=True, exist_ok=True)
    name = f"{seed.database_name('medium')}_{checkout.label}"
    _say(f"{checkout.label}: seeding (or reusing) {name}")
    subprocess.run(  # noqa: S603
        [str(checkout.python), "-c", SEED, name, str(checkout.world_file)],
        cwd=checkout.root,
        check=True,
    )
    world = seed.World.from_json(checkout.world_file.read_text())
    asyncio.run(_settle_outbox(world, checkout.label))
    return world


async def _settle_outbox(world: seed.World, label: str) -> None:
    """A world starts with nothing pending; the seeding pass of the reworked model leaves
    an alert event for each subject first seen below its threshold (some 71,000 at
    medium), which the workers would otherwise relay through every timed pass."""
    done = await run.settle_outbox(world)
    _say(f"{label}: outbox events left by seeding marked processed ({done})")


@contextlib.contextmanager
def _workers(checkout: Checkout, world: seed.World) -> Iterator[list[int]]:
    """The checkout's ``waypost worker`` processes; yields their process-group leaders."""
    import redis

    redis.Redis.from_url(checkout.redis).flushdb()
    env = servers.production_env(world.database_url, WAYPOST_BROKER_URL=checkout.redis)
    command = [str(checkout.root / ".venv" / "bin" / "waypost"), "worker"]
    started: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="waypost-nightly-") as logs:
        try:
            for n in range(WORKERS):
                with open(Path(logs) / f"{checkout.label}-{n}.log", "wb") as out:
                    started.append(
                        subprocess.Popen(  # noqa: S603
                            command,
                            cwd=checkout.root,
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
            yield [p.pid for p in started]
            for n, process in enumerate(started):
                if process.poll() is not None:
                    log = (Path(logs) / f"{checkout.label}-{n}.log").read_text()
                    raise SystemExit(f"{checkout.label}'s worker exited:\n{log[-3000:]}")
        finally:
            for process in started:
                servers._stop(process)


def _group_pids(leaders: list[int]) -> list[int]:
    return [pid for leader in leaders for pid in load.descendants(leader)]


def _settled(world: seed.World, leaders: list[int]) -> None:
    """Until the workers' start-up pass (the schedule's, once a period) is done, or they
    are idle: a later run in the same period has none."""
    before = asyncio.run(run._generations(world))
    deadline = time.monotonic() + 600
    started = time.monotonic()
    last = load.cpu_seconds(_group_pids(leaders))
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = asyncio.run(run._generations(world))
        if all(now.get(w.id, 0) > before.get(w.id, 0) for w in world.workspaces):
            return
        cpu = load.cpu_seconds(_group_pids(leaders))
        if time.monotonic() - started > 20 and cpu - last < 0.05:
            return
        last = cpu
    raise SystemExit("the workers did not settle in 10 minutes")


def _postgres_pids() -> list[int]:
    """Every process of the local Postgres cluster (its backends do the pass's SQL)."""
    done = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True, check=False)  # noqa: S607
    return [int(pid) for pid in done.stdout.split()]


def _ci_running() -> bool:
    done = subprocess.run(["pgrep", "-f", r"\.ci/run"], capture_output=True, check=False)  # noqa: S607
    return bool(done.stdout.strip())


def _quiet_machine() -> None:
    waited = False
    while _ci_running():
        if not waited:
            _say("a CI run is going on: waiting for it to end")
            waited = True
        time.sleep(10)
    if waited:
        time.sleep(15)  # its last processes wind down


def _nightly_pass(world: seed.World, redis_url: str) -> float:
    """bench/run.py's (e): enqueue every workspace's full pass as the schedule does, time
    until the running workers have finished the last of them."""
    from workers.actors import declare_actors
    from workers.broker import build_broker

    asyncio.run(run.vacuum(world, run.CHURNED))
    before = asyncio.run(run._generations(world))
    broker = build_broker(redis_url)
    try:
        actor = declare_actors(broker).recalculate_all_health
        started = time.perf_counter()
        for workspace in world.workspaces:
            actor.send(str(workspace.id))
        asyncio.run(run._until_passed(world, before, poll=0.05))
        return time.perf_counter() - started
    finally:
        broker.close()


def _table(checkouts: list[Checkout]) -> str:
    base, ours = checkouts
    lines = [
        "| checkout | passes | median | min | max | workers' CPU | Postgres CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in checkouts:
        python = statistics.median(p for p, _ in c.cpu)
        sql = statistics.median(s for _, s in c.cpu)
        lines.append(
            f"| {c.label} ({c.commit}) | {len(c.passes)} | {statistics.median(c.passes):.2f} s "
            f"| {min(c.passes):.2f} s | {max(c.passes):.2f} s | {python:.2f} s | {sql:.2f} s |"
        )
    ratio = statistics.median(ours.passes) / statistics.median(base.passes)
    lines.append(f"| {ours.label} / {base.label} | | {ratio:.2f}x | | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the older checkout")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of each")
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    checkouts = [
        Checkout("base", args.base.resolve(), "redis://127.0.0.1:6379/10"),
        Checkout("main", HERE, "redis://127.0.0.1:6379/11"),
    ]
    worlds = [_seeded(c) for c in checkouts]
    if args.seed_only:
        return
    with contextlib.ExitStack() as stack:
        groups = []
        for checkout, world in zip(checkouts, worlds, strict=True):
            leaders = stack.enter_context(_workers(checkout, world))
            _say(f"{checkout.label}: workers started, waiting for them to settle")
            _settled(world, leaders)
            groups.append(leaders)
        for checkout, world in zip(checkouts, worlds, strict=True):
            _quiet_machine()
            warm = _nightly_pass(world, checkout.redis)
            _say(f"{checkout.label}: untimed pass {warm:.2f} s")
        for n in range(args.rounds):
            for checkout, world, leaders in zip(checkouts, worlds, groups, strict=True):
                _quiet_machine()
                others = [p for g in groups if g is not leaders for p in _group_pids(g)]
                own, database = _group_pids(leaders), _postgres_pids()
                before = [load.cpu_seconds(p) for p in (others, own, database)]
                load_1m = os.getloadavg()[0]
                seconds = _nightly_pass(world, checkout.redis)
                idle, python, sql = (
                    load.cpu_seconds(p) - b
                    for p, b in zip((others, own, database), before, strict=True)
                )
                checkout.passes.append(seconds)
                checkout.cpu.append((python, sql))
                _say(
                    f"round {n + 1}, {checkout.label}: {seconds:.2f} s; CPU: its workers "
                    f"{python:.2f} s, Postgres {sql:.2f} s (load {load_1m:.2f} before; "
                    f"the other workers used {idle:.2f} s)"
                )
    print()
    print(_table(checkouts))


if __name__ == "__main__":
    sys.exit(main())
