"""How touchpoints spread beyond their answers' noise: their true levels (so a level
far from the average can be expected to come back part way, regression to the mean)
and their own drift between two windows."""

from __future__ import annotations

from dataclasses import dataclass

from backend.initiatives.outcome.evidence import Answers, shrunk

# Touchpoints needed to estimate how they spread: their true levels (regression to the
# mean) and their own drift between the windows.
MIN_DRIFT_TOUCHPOINTS = 3


def own_drift(usable: list[Answers], pooled: float) -> tuple[float, int]:
    """How far untouched touchpoints move on their own between the windows beyond what
    their answers' noise explains (a variance, by DerSimonian-Laird), and its df.

    Item noise alone would make a touchpoint with many answers look certain; a new
    agent, a broken link or a local campaign moves one touchpoint regardless."""
    if len(usable) < MIN_DRIFT_TOUCHPOINTS:
        return 0.0, 1
    changes = [(a.after.mean or 0.0) - (a.before.mean or 0.0) for a in usable]
    noise = [
        shrunk(a.before, pooled) / a.before.n + shrunk(a.after, pooled) / a.after.n for a in usable
    ]
    return _between_variance(changes, noise), len(usable) - 1


def _between_variance(values: list[float], noise: list[float]) -> float:
    """The spread of ``values`` beyond their own sampling ``noise`` (variances), by
    DerSimonian-Laird: the precise ones count most, and a negative estimate is 0."""
    weights = [1 / s for s in noise]
    total = sum(weights)
    centre = sum(w * x for w, x in zip(weights, values, strict=True)) / total
    q = sum(w * (x - centre) ** 2 for w, x in zip(weights, values, strict=True))
    scale = total - sum(w * w for w in weights) / total
    return max(0.0, (q - (len(values) - 1)) / scale) if scale > 0 else 0.0


@dataclass(frozen=True)
class Regression:
    expected_return: float  # index points back towards the average, with no change
    noise: float  # the before level's variance left after the correction


def regression_to_the_mean(cells: list[Answers], pooled: float) -> dict[Answers, Regression]:
    """Per touchpoint, how far it is expected to move back towards the
    workspace's average with no change at all: regression to the mean.

    A touchpoint's level before is its true level plus its answers' noise; among
    touchpoints whose true levels spread by σ², one measured with noise s² is expected
    to come back by (1 - r) of its distance from the average, r = σ² / (σ² + s²) its
    reliability. Few answers, large return; many answers, almost none. What is left of
    the level's noise after that correction is r s² plus (1 - r)² of the average's."""
    if len(cells) < MIN_DRIFT_TOUCHPOINTS:
        return {}
    levels = [a.before.mean or 0.0 for a in cells]
    noise = [shrunk(a.before, pooled) / a.before.n for a in cells]
    average = sum(levels) / len(levels)
    true_spread = _between_variance(levels, noise)
    average_noise = sum(noise) / len(noise) ** 2
    found = {}
    for a, x, s in zip(cells, levels, noise, strict=True):
        r = true_spread / (true_spread + s) if true_spread + s else 1.0
        found[a] = Regression((1 - r) * (average - x), r * s + (1 - r) ** 2 * average_noise)
    return found


def concentration(cells: list[Answers]) -> float:
    """Σ w² of the group's touchpoint weights: 1 for one touchpoint, 1/k for k equal ones."""
    total = sum(a.before.n + a.after.n for a in cells)
    return sum(((a.before.n + a.after.n) / total) ** 2 for a in cells) if total else 0.0
