"""`make faults` keeps working: its harness on the smallest scenario, five writers on one map,
against a real deployment (init.sql's roles, `waypost serve` and `waypost worker`, Redis)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from tests.fixtures.databases import (
    configured_broker_url,
    configured_url,
    is_postgres_run,
    real_broker_url,
    unreachable,
)

pytestmark = pytest.mark.skipif(
    not is_postgres_run(), reason="the fault suite deploys on Postgres with init.sql's roles"
)


def _redis_db() -> int:
    url = configured_broker_url()
    if not url.startswith("redis"):
        url = real_broker_url("redis")
    return int(make_url(url.replace("redis://", "postgresql://")).database or 0)


def test_five_writers_on_one_map_lose_nothing_and_conflict_four_times() -> None:
    if shutil.which("psql") is None:
        unreachable("psql", FileNotFoundError("psql is not on PATH"))
    url = configured_url()
    assert url is not None
    database = f"{make_url(url).database}_faults"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.faults", "--only", "one-map", "--writers", "5"),
            *("--database", database, "--redis-db", str(_redis_db()), "--drain-seconds", "20"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    row = next(line for line in done.stdout.splitlines() if "writers on one map" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:3] == ["0", "0"], row  # events lost, applied twice
    assert cells[3] == "CONFLICT 4", row
    assert "1 applied, 4 CONFLICT" in cells[5], row
    assert "revisions without gaps" in cells[5], row
