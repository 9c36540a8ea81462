"""Intervals and tests on sums (n, Σx, Σx²), as survey and analytics tools compute them.

Proportions get Wilson score intervals (right near 0 % and 100 %, where the normal
approximation says "100 % ± 0"); means get Student t intervals; a difference of
means gets Welch's t with Welch-Satterthwaite degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm, t

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Moments:
    """n, Σx and Σx² of a sample; enough for its mean, variance and intervals."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The sample variance (n - 1); None below two values."""
        if self.n < 2:
            return None
        mean = self.total / self.n
        return max(0.0, (self.total_sq - self.n * mean * mean) / (self.n - 1))


def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    return float(t.ppf(0.5 + confidence / 2, df))


def z_quantile(confidence: float = CONFIDENCE) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def wilson(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion, on 0..1; None without answers."""
    if n <= 0:
        return None
    z = z_quantile(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(sample: Moments, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The t interval of a mean; None below two values (no variance to speak of)."""
    mean, variance = sample.mean, sample.variance
    if mean is None or variance is None:
        return None
    half = t_quantile(sample.n - 1, confidence) * math.sqrt(variance / sample.n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Difference:
    """``b - a`` of two independent means, with its Welch standard error and df."""

    estimate: float
    standard_error: float
    df: float

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        half = t_quantile(self.df, confidence) * self.standard_error
        return self.estimate - half, self.estimate + half

    def p_value(self) -> float:
        if self.standard_error == 0:
            return 0.0 if self.estimate else 1.0
        return float(2 * t.sf(abs(self.estimate) / self.standard_error, self.df))


def welch(a: Moments, b: Moments) -> Difference | None:
    """Welch's difference b - a; None unless both have two values or more."""
    if a.mean is None or b.mean is None or a.variance is None or b.variance is None:
        return None
    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(va + vb)
    df = welch_satterthwaite([(va, a.n - 1), (vb, b.n - 1)])
    return Difference(b.mean - a.mean, se, df)


def welch_satterthwaite(parts: list[tuple[float, int]]) -> float:
    """Degrees of freedom of a sum of independent variances ``(s²/n, n - 1)``."""
    numerator = sum(v for v, _ in parts) ** 2
    denominator = sum(v * v / df for v, df in parts if df > 0)
    if denominator == 0:
        return float(max(1, sum(df for _, df in parts)))
    return numerator / denominator


def minimum_detectable(
    difference: Difference, power: float = 0.8, confidence: float = CONFIDENCE
) -> float:
    """The smallest true difference a two-sided test at ``confidence`` finds with
    probability ``power``, given the standard error and df it will have."""
    alpha_part = t_quantile(difference.df, confidence)
    power_part = float(t.ppf(power, difference.df))
    return (alpha_part + power_part) * difference.standard_error
