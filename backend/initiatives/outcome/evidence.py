"""What the outcome reads: each touchpoint's answers in the two windows, and how far
the spread of a few answers can be trusted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.measures.stats import Moments

# How strongly a cell's variance leans on the workspace's pooled one, in answers.
PRIOR_ANSWERS = 10
# The pooled variance's own prior: the largest an item index can have (half its
# answers at 0, half at 100), so a workspace with no spread yet is not trusted.
PRIOR_VARIANCE = 2500.0


@dataclass(frozen=True)
class Answers:
    """One touchpoint's item indexes in the window before and the window after."""

    before: Moments
    after: Moments


@dataclass(frozen=True)
class Evidence:
    # Keyed by touchpoint: any label (the service uses ids, the bench numbers).
    treated: Mapping[Any, Answers]
    # Touchpoints that could serve as controls (live, untouched by any overlapping
    # initiative); the analysis picks among them.
    untouched: Mapping[Any, Answers]
    # The initiative's answers per survey (definition, or kind when none), per window.
    mix_before: Mapping[str, int] = field(default_factory=dict)
    mix_after: Mapping[str, int] = field(default_factory=dict)


def pooled_variance(evidence: Evidence) -> float:
    """The workspace's within-touchpoint item variance, with ``PRIOR_VARIANCE`` as a
    prior worth ``PRIOR_ANSWERS`` answers."""
    squares, df = PRIOR_ANSWERS * PRIOR_VARIANCE, float(PRIOR_ANSWERS)
    for answers in [*evidence.treated.values(), *evidence.untouched.values()]:
        for cell in (answers.before, answers.after):
            if cell.variance is not None:
                squares += (cell.n - 1) * cell.variance
                df += cell.n - 1
    return squares / df


def shrunk(cell: Moments, pooled: float) -> float:
    """The cell's variance pulled towards the pooled one by ``PRIOR_ANSWERS``."""
    observed = cell.variance or 0.0
    return ((cell.n - 1) * observed + PRIOR_ANSWERS * pooled) / (cell.n - 1 + PRIOR_ANSWERS)
