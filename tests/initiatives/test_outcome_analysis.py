"""The outcome's statistics on constructed cases, as a CX reviewer would build them.

Each case states what the outcome used to say (a naive before/after, 1.96 standard
errors, any change significant at zero variance) and what it must say now.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import t

from backend.initiatives.outcome import detection, trend
from backend.initiatives.outcome.analysis import (
    NEAREST,
    Answers,
    Evidence,
    OutcomeMethod,
    OutcomeWarning,
    analyse,
)
from backend.measures.stats import Moments


def sample(mean: float, sd: float, n: int) -> Moments:
    """n answers with this mean and sample standard deviation (item-index points)."""
    return Moments(n, n * mean, (n - 1) * sd * sd + n * mean * mean)


def values(*items: float) -> Moments:
    return Moments(len(items), sum(items), sum(x * x for x in items))


def naive_significant(before: Moments, after: Moments) -> bool:
    """What the outcome used to answer: pooled means, 1.96 standard errors."""
    assert before.mean is not None
    assert after.mean is not None
    error = math.sqrt((before.variance or 0) / before.n + (after.variance or 0) / after.n)
    change = after.mean - before.mean
    return abs(change) > 1.96 * error if error > 0 else change != 0


def seasonal_workspace(lift: float) -> Evidence:
    """Six touchpoints at different levels, all +4 after shipping; the first is treated
    and gets ``lift`` more."""
    cells = {
        k: Answers(sample(level, 20, 300), sample(level + 4 + (lift if k == 0 else 0), 20, 300))
        for k, level in enumerate([60.0, 55.0, 62.0, 58.0, 66.0, 52.0])
    }
    return Evidence({0: cells[0]}, {k: a for k, a in cells.items() if k != 0})


def test_a_season_lifting_every_touchpoint_is_not_credited() -> None:
    evidence = seasonal_workspace(lift=0.0)
    treated = evidence.treated[0]
    assert naive_significant(treated.before, treated.after)  # the old answer

    found = analyse(evidence)
    assert found.method is OutcomeMethod.DIFFERENCE_IN_DIFFERENCES
    assert found.controls is not None
    assert found.controls.touchpoints == NEAREST
    assert found.treated.change == pytest.approx(4.0)
    assert found.estimate == pytest.approx(0.0, abs=0.5)
    assert not found.significant
    assert found.warnings == ()


def test_a_real_effect_of_five_points_is_detected_through_the_season() -> None:
    found = analyse(seasonal_workspace(lift=5.0))
    assert found.significant
    assert found.estimate == pytest.approx(5.0, abs=0.5)
    assert found.interval is not None
    low, high = found.interval
    assert low < 5.0 < high
    assert found.p_value is not None
    assert found.p_value < 0.05


def test_fixing_the_worst_touchpoint_gets_no_credit_for_regression_to_the_mean() -> None:
    # Twelve touchpoints alike (CSAT around 62 %), 40 answers a window; the one that
    # looked worst before shipping (30 %) was picked, and came back to 60 % by itself.
    before = [12, 22, 24, 25, 26, 23, 27, 24, 25, 26, 22, 28]
    after = [24, 25, 23, 24, 26, 25, 22, 27, 24, 23, 26, 25]

    def csat(top_box: int) -> Moments:
        return Moments(40, 100.0 * top_box, 10_000.0 * top_box)

    cells = {
        k: Answers(csat(b), csat(a)) for k, (b, a) in enumerate(zip(before, after, strict=True))
    }
    evidence = Evidence({0: cells[0]}, {k: a for k, a in cells.items() if k != 0})
    assert naive_significant(cells[0].before, cells[0].after)  # +30 points, "significant"

    found = analyse(evidence)
    assert found.treated.change == pytest.approx(30.0)
    assert found.estimate is not None
    assert found.estimate < 15.0
    assert not found.significant


def test_two_csat_fours_against_two_threes_are_not_significant() -> None:
    # CSAT 3 is not top-2-box (0), CSAT 4 is (100): zero variance in both windows.
    treated = Answers(values(0, 0), values(100, 100))
    assert naive_significant(treated.before, treated.after)

    alone = analyse(Evidence({"t": treated}, {}))
    assert alone.method is OutcomeMethod.BEFORE_AFTER
    assert not alone.significant
    assert not alone.testable
    assert OutcomeWarning.NO_COMPARISON_GROUP in alone.warnings
    assert OutcomeWarning.FEW_ANSWERS in alone.warnings
    assert alone.difference is not None
    assert alone.difference.standard_error > 20

    flat = Answers(sample(60, 25, 100), sample(60, 25, 100))
    compared = analyse(Evidence({"t": treated}, {"c": flat}))
    assert compared.method is OutcomeMethod.DIFFERENCE_IN_DIFFERENCES
    assert not compared.significant


def test_a_small_sample_uses_student_t_on_welch_satterthwaite_degrees_of_freedom() -> None:
    # Six answers a window; z says significant, t on ~10 df does not.
    treated = Answers(sample(40, 25, 6), sample(70, 25, 6))
    # Many answers elsewhere (no window after, so no control) set the workspace's spread.
    spread = Answers(sample(50, 25, 1_000), Moments())
    found = analyse(Evidence({"t": treated}, {"elsewhere": spread}))
    difference = found.difference
    assert difference is not None
    assert difference.df == pytest.approx(10, abs=0.5)
    assert difference.estimate / difference.standard_error > 1.96
    assert found.interval is not None
    half = (found.interval[1] - found.interval[0]) / 2
    assert half == pytest.approx(t.ppf(0.975, difference.df) * difference.standard_error)
    assert not found.significant


def test_volume_and_survey_mix_shifts_are_flagged() -> None:
    cells = Answers(sample(60, 20, 40), sample(62, 20, 100))
    found = analyse(
        Evidence(
            {"t": cells},
            {},
            mix_before={"CSAT": 40},
            mix_after={"CSAT": 40, "NPS": 60},
        )
    )
    assert OutcomeWarning.VOLUME_SHIFT in found.warnings
    assert OutcomeWarning.SURVEY_MIX_SHIFT in found.warnings

    steady = analyse(
        Evidence(
            {"t": Answers(sample(60, 20, 40), sample(62, 20, 50))},
            {},
            mix_before={"CSAT": 30, "NPS": 10},
            mix_after={"CSAT": 36, "NPS": 14},
        )
    )
    assert OutcomeWarning.VOLUME_SHIFT not in steady.warnings
    assert OutcomeWarning.SURVEY_MIX_SHIFT not in steady.warnings


def test_controls_are_the_untouched_touchpoints_nearest_in_level_with_answers_in_both_windows() -> (
    None
):
    treated = Answers(sample(40, 20, 100), sample(40, 20, 100))
    untouched = {
        f"near{k}": Answers(sample(40 + k, 20, 100), sample(40 + k, 20, 100))
        for k in range(NEAREST)
    }
    untouched["far"] = Answers(sample(90, 20, 100), sample(90, 20, 100))
    untouched["no after"] = Answers(sample(40, 20, 100), Moments())
    found = analyse(Evidence({"t": treated}, untouched))
    assert found.controls is not None
    assert found.controls.touchpoints == NEAREST
    assert found.controls.before == pytest.approx(40 + (NEAREST - 1) / 2)


SHIPPED = datetime(2026, 6, 1, tzinfo=UTC)


def weekly(start_week: int, weeks: int, value: float, slope: float) -> list[tuple[datetime, float]]:
    wiggle = [0.3, -0.2, 0.1, -0.3, 0.2]
    return [
        (SHIPPED + timedelta(weeks=w), value + slope * w + wiggle[w % 5])
        for w in range(start_week, start_week + weeks)
    ]


def test_the_target_metrics_own_trend_is_not_credited() -> None:
    # Climbing a point a week for 20 weeks before launch, and after it just the same.
    before, after = weekly(-20, 20, 50.0, 1.0), weekly(1, 12, 50.0, 1.0)
    found = trend.check(before, after, SHIPPED)
    assert found is not None
    raw = found.observed - sum(v for _, v in before) / len(before)
    assert raw > 15  # what a before/after of the metric would credit
    assert found.deviation.estimate == pytest.approx(0.0, abs=1.0)
    assert not found.beyond_trend
    assert found.follows_trend

    # Flat before, ten points up after: beyond the trend.
    jumped = trend.check(weekly(-20, 20, 50.0, 0.0), weekly(1, 12, 60.0, 0.0), SHIPPED)
    assert jumped is not None
    assert jumped.beyond_trend
    assert not jumped.follows_trend
    assert jumped.deviation.estimate == pytest.approx(10.0, abs=0.5)

    assert trend.check(before[:2], after, SHIPPED) is None  # a line needs three points


def test_the_minimum_detectable_effect_is_at_eighty_percent_power() -> None:
    treated = {"t": sample(60, 25, 200)}
    # Touchpoints at clearly different levels: little regression to the mean to correct.
    untouched = {k: sample(40 + 10 * k, 25, 200) for k in range(NEAREST)}
    found = detection.detection(treated, untouched)
    assert found.method is OutcomeMethod.DIFFERENCE_IN_DIFFERENCES
    assert found.expected_answers == 200
    assert found.controls == NEAREST
    # Treated and controls, before and after: σ² (2/200 + 2/(200·k)); df large.
    error = 25 * math.sqrt(2 / 200 + 2 / (200 * NEAREST))
    assert found.minimum_detectable_effect == pytest.approx((1.96 + 0.84) * error, rel=0.05)

    fewer = detection.detection({"t": sample(60, 25, 50)}, untouched)
    assert fewer.minimum_detectable_effect is not None
    assert found.minimum_detectable_effect is not None
    assert fewer.minimum_detectable_effect > found.minimum_detectable_effect
    assert detection.detection({"t": sample(60, 25, 3)}, {}).minimum_detectable_effect is None


def test_an_initiative_without_answers_in_both_windows_has_no_estimate() -> None:
    untouched = {k: Answers(sample(60, 20, 50), sample(60, 20, 50)) for k in range(3)}
    found = analyse(Evidence({"t": Answers(sample(60, 20, 50), Moments())}, untouched))
    assert found.method is OutcomeMethod.DIFFERENCE_IN_DIFFERENCES
    assert found.estimate is None
    assert not found.significant
    assert found.warnings == (OutcomeWarning.FEW_ANSWERS,)
