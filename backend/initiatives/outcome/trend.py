"""The target metric after shipping against the line it was already on. Pure statistics.

A metric that was climbing before launch keeps climbing; crediting the initiative with
that climb is the commonest outcome mistake. We fit a straight line (least squares) to
the metric's values in the ``LOOKBACK`` before shipping, project it over the after
window, and report the observed after-window mean minus the projected mean, with the
prediction interval of that difference (the line's own uncertainty plus the scatter of
new values around it, Student t on n - 2 df).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.measures.stats import CONFIDENCE, Difference

LOOKBACK = timedelta(days=365)
MIN_POINTS = 3  # a line through two points has no scatter to judge it by
_DAY = 86_400.0


@dataclass(frozen=True)
class TrendCheck:
    observed: float  # mean of the values after shipping
    projected: float  # the pre-launch line's mean over the same moments
    slope_per_day: float
    points_before: int
    points_after: int
    deviation: Difference  # observed - projected
    slope: Difference  # the slope and its standard error, to tell a trend from noise

    @property
    def interval(self) -> tuple[float, float]:
        return self.deviation.interval(CONFIDENCE)

    @property
    def beyond_trend(self) -> bool:
        low, high = self.interval
        return low > 0 or high < 0

    @property
    def follows_trend(self) -> bool:
        """It was already moving, and what came after is what the line predicted."""
        low, high = self.slope.interval(CONFIDENCE)
        return (low > 0 or high < 0) and not self.beyond_trend


def check(
    before: Sequence[tuple[datetime, float]],
    after: Sequence[tuple[datetime, float]],
    shipped_at: datetime,
) -> TrendCheck | None:
    """None with fewer than ``MIN_POINTS`` values before or none after."""
    if len(before) < MIN_POINTS or not after:
        return None
    xs = [(at - shipped_at).total_seconds() / _DAY for at, _ in before]
    ys = [value for _, value in before]
    n = len(xs)
    x_mean, y_mean = sum(xs) / n, sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    scatter = residual / (n - 2)  # the variance of a value around the line
    later = [(at - shipped_at).total_seconds() / _DAY for at, _ in after]
    m = len(later)
    later_mean = sum(later) / m
    observed = sum(value for _, value in after) / m
    projected = intercept + slope * later_mean
    error = math.sqrt(scatter * (1 / m + 1 / n + (later_mean - x_mean) ** 2 / sxx))
    return TrendCheck(
        observed=observed,
        projected=projected,
        slope_per_day=slope,
        points_before=n,
        points_after=m,
        deviation=Difference(observed - projected, error, n - 2),
        slope=Difference(slope, math.sqrt(scatter / sxx), n - 2),
    )
