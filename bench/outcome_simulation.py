"""How often the initiative outcome calls noise an effect, and how often it finds a real one.

    .venv/bin/python -m bench.outcome_simulation            # 2,000 runs each, seed 18
    .venv/bin/python -m bench.outcome_simulation --runs 200 --seed 7

Each run is one simulated workspace and one initiative. Every touchpoint has its own
true level, volume and survey mix (CSAT, NPS and CES 2.0 answers drawn on their own
scales and read as item indexes), its own small drift between the windows, and a
seasonal +4 index points after shipping that has nothing to do with the initiative.
A quarter of the initiatives pick the touchpoint that looked worst before shipping
(regression to the mean); the rest pick one or two at random.

The null runs add no effect: every "significant" is a false positive. The power runs
add ``--effect`` points at the initiative's touchpoints. Each run goes through
``backend.initiatives.outcome.analysis.analyse``, the function the API uses, and through
the naive before/after the outcome used to be (pooled answers, 1.96 standard errors,
any change significant at zero variance). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from backend.initiatives.outcome.analysis import Answers, Evidence, analyse
from backend.measures.stats import Moments

SEASON = 4.0  # index points on every touchpoint after shipping
DRIFT = 1.0  # sd of each touchpoint's own move between the windows
TOUCHPOINTS = 16
WORST_SHARE = 0.25
# CSAT, NPS, CES 2.0 in a workspace's answers, on average.
MIX = (2.0, 1.5, 1.0)
_CES_POINTS = np.arange(7)


@dataclass
class Tally:
    runs: int = 0
    significant: int = 0

    @property
    def rate(self) -> float:
        return self.significant / self.runs if self.runs else 0.0


@dataclass
class Results:
    runs: int
    effect: float
    # (method, scenario, subset) -> tally; scenario "null" or "effect", subset "all",
    # "worst" (the initiative picked the worst touchpoint) or a band of ``VOLUMES``
    # (random picks, by answers before shipping).
    tallies: dict[tuple[str, str, str], Tally]
    seconds: float

    def rate(self, method: str, scenario: str, subset: str = "all") -> float:
        return self.tallies[(method, scenario, subset)].rate


def _window(
    rng: np.random.Generator, mixes: np.ndarray, volumes: np.ndarray, levels: np.ndarray
) -> list[Moments]:
    """One window's answers at every touchpoint, whose item index averages ``levels``."""
    p = np.clip(levels, 1.0, 99.0) / 100
    kinds = rng.multinomial(rng.poisson(volumes), mixes)  # CSAT, NPS, CES per touchpoint
    # CSAT top-2-box: 100 or 0.
    csat = rng.binomial(kinds[:, 0], p)
    # NPS: passives fixed at 30 %, promoters carry the level.
    promoters = np.clip(p - 0.15, 0.0, 0.7)
    nps = rng.multinomial(
        kinds[:, 1], np.stack([0.7 - promoters, np.full_like(p, 0.3), promoters], 1)
    )
    # CES 2.0, 1..7 higher is better: the place on the scale is binomial.
    pmf = np.stack([math.comb(6, k) * p**k * (1 - p) ** (6 - k) for k in range(7)], 1)
    ces = rng.multinomial(kinds[:, 2], pmf)
    ces_values = 100.0 * _CES_POINTS / 6
    n = kinds.sum(1)
    total = 100.0 * csat + 50.0 * nps[:, 1] + 100.0 * nps[:, 2] + ces @ ces_values
    total_sq = 1e4 * csat + 2_500.0 * nps[:, 1] + 1e4 * nps[:, 2] + ces @ (ces_values**2)
    return [Moments(int(a), float(b), float(c)) for a, b, c in zip(n, total, total_sq, strict=True)]


def _naive(before: Moments, after: Moments) -> bool:
    """The outcome as it was: pooled answers, 1.96 standard errors."""
    if before.mean is None or after.mean is None:
        return False
    if before.variance is None or after.variance is None:
        return False
    change = after.mean - before.mean
    error = math.sqrt(before.variance / before.n + after.variance / after.n)
    return abs(change) > 1.96 * error if error > 0 else change != 0


def _run(rng: np.random.Generator, effect: float) -> tuple[bool, bool, str]:
    """(DiD significant, naive significant, the subset the run also counts in)."""
    levels = np.clip(rng.normal(65, 10, TOUCHPOINTS), 20, 85)
    volumes = np.clip(rng.lognormal(math.log(120), 0.8, TOUCHPOINTS), 8, 2_000)
    mixes = rng.dirichlet(MIX, TOUCHPOINTS)
    before = _window(rng, mixes, volumes, levels)
    worst = rng.random() < WORST_SHARE
    if worst:
        measured = [i for i in range(TOUCHPOINTS) if before[i].n]
        treated = {min(measured, key=lambda i: before[i].mean or 0.0)}
    else:
        treated = set(rng.choice(TOUCHPOINTS, size=int(rng.integers(1, 3)), replace=False).tolist())
    lift = np.array([effect if i in treated else 0.0 for i in range(TOUCHPOINTS)])
    drift = rng.normal(0, DRIFT, TOUCHPOINTS)
    after = _window(rng, mixes, volumes, levels + SEASON + drift + lift)
    cells = {i: Answers(before[i], after[i]) for i in range(TOUCHPOINTS)}
    evidence = Evidence(
        treated={i: cells[i] for i in treated},
        untouched={i: cells[i] for i in cells if i not in treated},
    )
    did = analyse(evidence).significant
    pooled_before = sum((before[i] for i in treated), Moments())
    pooled_after = sum((after[i] for i in treated), Moments())
    subset = "worst" if worst else _volume(pooled_before.n)
    return did, _naive(pooled_before, pooled_after), subset


VOLUMES = ("< 60 answers", "60-250 answers", "≥ 250 answers")


def _volume(answers: int) -> str:
    """The run's volume band: answers before shipping at the initiative's touchpoints."""
    return VOLUMES[0] if answers < 60 else VOLUMES[1] if answers < 250 else VOLUMES[2]


def simulate(runs: int = 2_000, seed: int = 18, effect: float = 5.0) -> Results:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    tallies: dict[tuple[str, str, str], Tally] = {}
    scenarios: list[tuple[Literal["null", "effect"], float]] = [("null", 0.0), ("effect", effect)]
    for scenario, size in scenarios:
        for _ in range(runs):
            did, naive, band = _run(rng, size)
            for method, hit in (("did", did), ("naive", naive)):
                for subset in ("all", band):
                    tally = tallies.setdefault((method, scenario, subset), Tally())
                    tally.runs += 1
                    tally.significant += hit
    return Results(runs, effect, tallies, time.perf_counter() - started)


def table(results: Results) -> str:
    def pct(method: str, scenario: str, subset: str = "all") -> str:
        tally = results.tallies.get((method, scenario, subset), Tally())
        return f"{100 * tally.rate:.1f} %"

    effect = f"{results.effect:+g}"
    worst = results.tallies.get(("did", "null", "worst"), Tally()).runs
    lines = [
        f"| Method | False positives, null + season {SEASON:+g} (goal ≤ 5 %) "
        f"| … on the worst touchpoint ({worst} runs) | Power at {effect} points |",
        "|---|---:|---:|---:|",
        f"| Difference-in-differences (the outcome now) | {pct('did', 'null')} "
        f"| {pct('did', 'null', 'worst')} | {pct('did', 'effect')} |",
        f"| Naive before/after (the outcome until now) | {pct('naive', 'null')} "
        f"| {pct('naive', 'null', 'worst')} | {pct('naive', 'effect')} |",
        "",
        f"| Random picks, by answers before shipping | Runs | False positives (DiD) "
        f"| Power at {effect} (DiD) |",
        "|---|---:|---:|---:|",
    ]
    for band in VOLUMES:
        runs = results.tallies.get(("did", "null", band), Tally()).runs
        lines.append(
            f"| {band} | {runs} | {pct('did', 'null', band)} | {pct('did', 'effect', band)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000, help="per scenario (null, effect)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--effect", type=float, default=5.0, help="index points, power runs")
    args = parser.parse_args()
    results = simulate(args.runs, args.seed, args.effect)
    print(table(results))
    print(
        f"\n{args.runs:,} runs per scenario, seed {args.seed}, {TOUCHPOINTS} touchpoints, "
        f"{results.seconds:.1f} s."
    )


if __name__ == "__main__":
    main()
