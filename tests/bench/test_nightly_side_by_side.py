"""bench.nightly_side_by_side without a world: its table, and the seeder names it replaces."""

from __future__ import annotations

from bench import nightly_side_by_side as sbs
from bench import seed


def test_the_table_gives_each_checkouts_spread_cpu_and_the_ratio_of_medians() -> None:
    """Per checkout: passes, median, min, max, then the median CPU of its workers and of
    Postgres per pass."""
    base = sbs.Checkout(
        "base",
        sbs.HERE,
        "redis://127.0.0.1:6379/10",
        [10.0, 12.0, 11.0],
        [(8.0, 9.0), (9.5, 9.5), (9.0, 10.0)],
    )
    main = sbs.Checkout(
        "main",
        sbs.HERE,
        "redis://127.0.0.1:6379/11",
        [16.5, 15.0, 20.0],
        [(14.0, 9.0), (13.0, 8.0), (15.0, 9.5)],
    )
    lines = sbs._table([base, main]).splitlines()
    assert lines[2].startswith("| base (")
    assert "| 3 | 11.00 s | 10.00 s | 12.00 s | 9.00 s | 9.50 s |" in lines[2]
    assert "| 3 | 16.50 s | 15.00 s | 20.00 s | 14.00 s | 9.00 s |" in lines[3]
    assert lines[4] == "| main / base | | 1.50x | | | | |"


def test_the_seeder_still_looks_up_the_names_the_script_replaces() -> None:
    # The script seeds each checkout under its own database and world file by replacing
    # these module functions; seed() must keep calling them by name.
    code = seed.seed.__code__
    assert {"database_name", "world_file"} <= set(code.co_names)
    assert seed.database_name("medium") == "waypost_bench_medium"
