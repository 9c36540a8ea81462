"""`make faults`: a production deployment on loopback, six faults, one table.

    .venv/bin/python -m bench.faults                         # every scenario, full size
    .venv/bin/python -m bench.faults --only one-map --writers 5

Needs Postgres on 127.0.0.1:5432 (a superuser ``postgres`` runs init.sql, as an operator
would, and nothing else) and Redis on 127.0.0.1:6379. Exits 1 if any scenario lost an
event or applied an effect twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench.faults import scenarios
from bench.faults.database import (
    Reader,
    drop_database,
    install_ledger,
    login_role_differences,
    production_database,
)
from bench.faults.deployment import Deployment
from bench.faults.report import table

DATABASE = "waypost_r_faults"
REDIS_DB = 7


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(scenarios.SCENARIOS), default=None)
    parser.add_argument("--database", default=DATABASE, help="scratch database, dropped after")
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    parser.add_argument("--broker-outage", type=float, default=30.0, help="seconds")
    parser.add_argument("--database-outage", type=float, default=5.0, help="seconds")
    parser.add_argument("--writers", type=int, default=50, help="on one map")
    parser.add_argument(
        "--drain-seconds", type=float, default=120.0, help="wait for the outbox this long"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[scenarios.Result]:
    scenarios.DrainLimit.seconds = args.drain_seconds
    db = production_database(args.database)
    extra = login_role_differences(db.login)
    if extra:
        # The role existed before (roles are cluster-wide): said, since init.sql differs.
        print(f"note: {db.login} exists with {', '.join(extra)}", file=sys.stderr)
    deployment = Deployment(db, args.redis_db)
    reader = Reader(db)
    deployment.migrate()
    await install_ledger(db)
    options: dict[str, dict[str, float]] = {
        "broker-down": {"outage": args.broker_outage},
        "database-cut": {"outage": args.database_outage},
        "one-map": {"writers": args.writers},
    }
    results = []
    try:
        with deployment.running():
            world = await scenarios.build_world(deployment, reader)
            for name in args.only or scenarios.SCENARIOS:
                print(f"-- {name}", file=sys.stderr, flush=True)
                result = await scenarios.SCENARIOS[name](world, **options.get(name, {}))
                print(table([result], header=False), file=sys.stderr, flush=True)
                results.append(result)
    finally:
        if args.keep:
            print(f"logs in {deployment.logs}; database {db.name} kept", file=sys.stderr)
        else:
            drop_database(db.name)
            deployment.broker_client().flushdb()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    results = asyncio.run(run(parse(argv)))
    print(table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
