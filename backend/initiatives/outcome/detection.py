"""What an initiative could show, before it ships: its minimum detectable effect.

From its touchpoints' last ``WINDOW`` (volume and spread) and the comparison group the
outcome would use, we assume the same volume in a window before and a window after
shipping and ask how large a true change the outcome's test finds four times out of
five (80 % power, two-sided at 5 %). An initiative whose hoped-for change is smaller
cannot be told from noise, however well it works; plan more answers or a bigger change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.initiatives.outcome.analysis import Answers, Evidence, OutcomeMethod, analyse
from backend.measures.stats import Moments, minimum_detectable

POWER = 0.8


@dataclass(frozen=True)
class Detection:
    minimum_detectable_effect: float | None  # item-index points; None without answers
    expected_answers: int  # per window, at the initiative's touchpoints
    method: OutcomeMethod
    controls: int


def detection(treated: Mapping[Any, Moments], untouched: Mapping[Any, Moments]) -> Detection:
    """``treated`` and ``untouched``: each touchpoint's answers in the last window."""
    analysis = analyse(
        Evidence(
            treated={k: Answers(m, m) for k, m in treated.items()},
            untouched={k: Answers(m, m) for k, m in untouched.items()},
        )
    )
    expected = sum(m.n for m in treated.values())
    effect = None
    if analysis.difference is not None and analysis.testable:
        effect = minimum_detectable(analysis.difference, POWER)
    controls = analysis.controls.touchpoints if analysis.controls else 0
    return Detection(effect, expected, analysis.method, controls)
