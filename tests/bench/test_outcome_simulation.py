"""`bench.outcome_simulation` keeps running: a tiny simulation through the outcome's own
analysis, its table, and the naive method beside it."""

from __future__ import annotations

from bench import outcome_simulation


def test_a_tiny_simulation_prints_both_methods_side_by_side() -> None:
    results = outcome_simulation.simulate(runs=40, seed=3, effect=30.0)
    assert results.tallies[("did", "null", "all")].runs == 40
    assert results.tallies[("naive", "effect", "all")].runs == 40
    # A 30-point lift is found most of the time by either method.
    assert results.rate("did", "effect") > 0.5
    table = outcome_simulation.table(results)
    assert "Difference-in-differences" in table
    assert "Naive before/after" in table
    assert table.count("\n|") >= 8


def test_the_same_seed_gives_the_same_figures() -> None:
    first = outcome_simulation.simulate(runs=15, seed=11)
    again = outcome_simulation.simulate(runs=15, seed=11)
    assert outcome_simulation.table(first) == outcome_simulation.table(again)
