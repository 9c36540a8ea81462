"""Did the initiative change its touchpoints' answers? Pure statistics, no database.

A difference-in-differences: the change at the initiative's touchpoints minus the change,
over the same two windows, at comparable touchpoints nobody touched. Season, a new survey
vendor or a product-wide outage move both; only the initiative moves the first alone.

- Values: each measured answer's item index (0..100 on its own survey's scale and
  direction, ``backend.measures.scales``). Sentiment is not an outcome measure: it is a
  model's reading of text, and the model can change while customers do not.
- Comparison group: live touchpoints of the workspace that no overlapping shipped
  initiative touched, with at least ``MIN_ANSWERS`` answers in each window, the
  ``NEAREST`` closest to the initiative's own level before shipping. Matching on the
  level, and subtracting from every touchpoint the return towards the workspace's
  average its level and noise predict, stop "fix the worst touchpoint" from claiming
  regression to the mean: a touchpoint that looked bad by chance comes back up whether
  fixed or not.
- Within a group, each touchpoint weighs by its share of the group's answers over both
  windows, the same weight before and after, so a volume shift between touchpoints
  does not read as a change.
- Variances are shrunk towards the workspace's pooled item variance (``PRIOR_ANSWERS``
  pseudo-answers), so two identical answers do not claim zero noise; degrees of freedom
  are Welch-Satterthwaite over every touchpoint-window, and the interval is Student t.
  The untouched touchpoints also tell how much a touchpoint drifts on its own between
  two windows beyond its answers' noise; that drift is added to the error.
- No comparison group: a plain before/after, flagged, because it cannot tell the
  initiative from the season.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backend.initiatives.outcome.evidence import Answers, Evidence, pooled_variance, shrunk
from backend.initiatives.outcome.spread import (
    Regression,
    concentration,
    own_drift,
    regression_to_the_mean,
)
from backend.measures.stats import CONFIDENCE, Difference, Moments, welch_satterthwaite

__all__ = ["Analysis", "Answers", "Evidence", "Group", "OutcomeMethod", "OutcomeWarning", "analyse"]

# Comparison touchpoints taken, nearest first by their level before shipping.
NEAREST = 5
# Fewer answers than this in any group: shown, never called significant; a touchpoint
# needs as many in each window to serve as a control.
MIN_ANSWERS = 5
# Fewer answers than this in any group: the FEW_ANSWERS warning (one or two answers
# can still swing the estimate).
FEW_ANSWERS = 20
# VOLUME_SHIFT: after/before answer counts at the initiative's touchpoints beyond this
# ratio either way.
VOLUME_RATIO = 1.5
# SURVEY_MIX_SHIFT: any survey's share of those answers moved by more than this.
MIX_POINTS = 0.10


class OutcomeMethod(StrEnum):
    DIFFERENCE_IN_DIFFERENCES = "DIFFERENCE_IN_DIFFERENCES"
    BEFORE_AFTER = "BEFORE_AFTER"


class OutcomeWarning(StrEnum):
    VOLUME_SHIFT = "VOLUME_SHIFT"
    SURVEY_MIX_SHIFT = "SURVEY_MIX_SHIFT"
    NO_COMPARISON_GROUP = "NO_COMPARISON_GROUP"
    FEW_ANSWERS = "FEW_ANSWERS"
    TARGET_METRIC_FOLLOWS_TREND = "TARGET_METRIC_FOLLOWS_TREND"


@dataclass(frozen=True)
class Group:
    """A group's weighted mean answer per window and how many answers it holds."""

    before: float | None
    after: float | None
    answers_before: int
    answers_after: int
    touchpoints: int

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass(frozen=True)
class Analysis:
    method: OutcomeMethod
    treated: Group
    controls: Group | None
    difference: Difference | None
    warnings: tuple[OutcomeWarning, ...]
    confidence: float = CONFIDENCE

    @property
    def estimate(self) -> float | None:
        return self.difference.estimate if self.difference else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return self.difference.interval(self.confidence) if self.difference else None

    @property
    def p_value(self) -> float | None:
        return self.difference.p_value() if self.difference else None

    @property
    def testable(self) -> bool:
        """Enough answers in every group for a test to mean anything."""
        groups = [self.treated] + ([self.controls] if self.controls else [])
        return all(min(g.answers_before, g.answers_after) >= MIN_ANSWERS for g in groups)

    @property
    def significant(self) -> bool:
        interval = self.interval
        return self.testable and interval is not None and (interval[0] > 0 or interval[1] < 0)


def analyse(evidence: Evidence, *, nearest: int = NEAREST) -> Analysis:
    """The initiative's effect in item-index points, with its interval."""
    pooled = pooled_variance(evidence)
    treated = _both_windows(evidence.treated, minimum=1)
    t_before, t_after, t_group = _combine(treated, pooled)
    usable = _both_windows(evidence.untouched, minimum=MIN_ANSWERS)
    controls = _nearest(usable, t_before.mean, nearest)
    warnings = _shift_warnings(evidence)
    if not usable:
        method, c_group = OutcomeMethod.BEFORE_AFTER, None
        warnings.append(OutcomeWarning.NO_COMPARISON_GROUP)
        parts = [t_before, t_after]
        estimate = _change(t_before, t_after)
    else:
        method = OutcomeMethod.DIFFERENCE_IN_DIFFERENCES
        regression = regression_to_the_mean([*treated, *usable], pooled)
        t_before, t_after, t_group = _combine(treated, pooled, regression)
        c_before, c_after, c_group = _combine(controls, pooled, regression)
        parts = [t_before, t_after, c_before, c_after]
        t_change, c_change = _change(t_before, t_after), _change(c_before, c_after)
        if t_change is None or c_change is None:
            estimate = None
        else:
            t_return = _weighted(treated, {k: r.expected_return for k, r in regression.items()})
            c_return = _weighted(controls, {k: r.expected_return for k, r in regression.items()})
            estimate = (t_change - t_return) - (c_change - c_return)
        drift, drift_df = own_drift(usable, pooled)
        if drift > 0:
            # Both groups' touchpoints drift on their own, however many answers they have.
            spread = drift * (concentration(treated) + concentration(controls))
            parts.append(_Mean(None, spread, [(spread, drift_df)]))
    groups = [t_group] + ([c_group] if c_group else [])
    if any(min(g.answers_before, g.answers_after) < FEW_ANSWERS for g in groups):
        warnings.append(OutcomeWarning.FEW_ANSWERS)
    difference = None
    if estimate is not None:
        variance = sum(p.variance for p in parts)
        df = welch_satterthwaite([part for p in parts for part in p.parts])
        difference = Difference(estimate, variance**0.5, df)
    return Analysis(method, t_group, c_group, difference, tuple(warnings))


@dataclass(frozen=True)
class _Mean:
    """A weighted mean over touchpoints in one window, its variance and WS parts."""

    mean: float | None
    variance: float
    parts: list[tuple[float, int]]


def _change(before: _Mean, after: _Mean) -> float | None:
    if before.mean is None or after.mean is None:
        return None
    return after.mean - before.mean


def _both_windows(cells: Mapping[Any, Answers], minimum: int) -> list[Answers]:
    return [a for a in cells.values() if min(a.before.n, a.after.n) >= minimum]


def _nearest(usable: list[Answers], level: float | None, nearest: int) -> list[Answers]:
    if level is None:
        return []
    # Closest level first; among equals, the better measured.
    ranked = sorted(
        usable, key=lambda a: (abs((a.before.mean or 0.0) - level), -(a.before.n + a.after.n))
    )
    return ranked[:nearest]


def _weighted(cells: list[Answers], values: Mapping[Answers, float]) -> float:
    total = sum(a.before.n + a.after.n for a in cells)
    return sum((a.before.n + a.after.n) / total * values.get(a, 0.0) for a in cells)


def _combine(
    cells: list[Answers], pooled: float, regression: Mapping[Answers, Regression] | None = None
) -> tuple[_Mean, _Mean, Group]:
    total = sum(a.before.n + a.after.n for a in cells)
    weights = [(a.before.n + a.after.n) / total for a in cells] if total else []

    def window(pick: str) -> _Mean:
        if not cells:
            return _Mean(None, 0.0, [])
        mean, parts = 0.0, []
        for w, answers in zip(weights, cells, strict=True):
            cell: Moments = getattr(answers, pick)
            mean += w * (cell.mean or 0.0)
            variance = shrunk(cell, pooled) / cell.n
            if pick == "before" and regression and answers in regression:
                variance = regression[answers].noise
            parts.append((w * w * variance, max(cell.n - 1, 1)))
        return _Mean(mean, sum(v for v, _ in parts), parts)

    before, after = window("before"), window("after")
    group = Group(
        before=before.mean,
        after=after.mean,
        answers_before=sum(a.before.n for a in cells),
        answers_after=sum(a.after.n for a in cells),
        touchpoints=len(cells),
    )
    return before, after, group


def _shift_warnings(evidence: Evidence) -> list[OutcomeWarning]:
    warnings: list[OutcomeWarning] = []
    before = sum(a.before.n for a in evidence.treated.values())
    after = sum(a.after.n for a in evidence.treated.values())
    if before and after and max(after / before, before / after) > VOLUME_RATIO:
        warnings.append(OutcomeWarning.VOLUME_SHIFT)
    mix_b, mix_a = sum(evidence.mix_before.values()), sum(evidence.mix_after.values())
    if mix_b and mix_a:
        surveys = set(evidence.mix_before) | set(evidence.mix_after)
        moved = max(
            abs(evidence.mix_after.get(s, 0) / mix_a - evidence.mix_before.get(s, 0) / mix_b)
            for s in surveys
        )
        if moved > MIX_POINTS:
            warnings.append(OutcomeWarning.SURVEY_MIX_SHIFT)
    return warnings
