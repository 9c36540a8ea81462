"""What an answer on a survey's scale is worth, as survey tools count it.

Every answer gets an *item index* on 0..100 whose mean over a set of answers is the
index of the survey's headline number over that set (linear, so sums in SQL suffice):

- NPS (0..10): promoter (9-10) 100, passive (7-8) 50, detractor (0-6) 0. The mean is
  (NPS + 100) / 2, where NPS = promoters % - detractors %.
- CSAT: top-2-box. An answer in the two best points of the scale is 100, any other 0,
  so the mean is the CSAT % survey tools report.
- CES and RATING: the answer's place on its own scale, 0 at the worst end and 100 at
  the best (a lower-is-better scale is turned round). The mean maps back to the mean
  answer on the survey's own scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.vocabulary.feedback import MeasureKind

NPS_PROMOTER = 9  # and above
NPS_PASSIVE = 7  # 7 and 8


@dataclass(frozen=True)
class Scale:
    kind: MeasureKind
    low: int
    high: int
    higher_is_better: bool = True

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


# The scale an answer is read on when it names no survey definition.
DEFAULT_SCALES: dict[MeasureKind, Scale] = {
    MeasureKind.CSAT: Scale(MeasureKind.CSAT, 1, 5),
    MeasureKind.NPS: Scale(MeasureKind.NPS, 0, 10),
    MeasureKind.CES: Scale(MeasureKind.CES, 1, 7),  # CES 2.0: 7 = "strongly agree it was easy"
    MeasureKind.RATING: Scale(MeasureKind.RATING, 1, 5),
}


def favourable(scale: Scale, value: int) -> bool:
    """Top-2-box: the answer is one of the two best points of its scale."""
    if scale.higher_is_better:
        return value >= scale.high - 1
    return value <= scale.low + 1


def item_index(scale: Scale, value: int) -> float:
    """One answer on 0..100 (see the module's docstring)."""
    if scale.kind is MeasureKind.NPS:
        return 100.0 if value >= NPS_PROMOTER else 50.0 if value >= NPS_PASSIVE else 0.0
    if scale.kind is MeasureKind.CSAT:
        return 100.0 if favourable(scale, value) else 0.0
    place = (value - scale.low) / (scale.high - scale.low)
    return 100.0 * (place if scale.higher_is_better else 1.0 - place)


def headline(scale: Scale, mean_index: float) -> float:
    """The number a survey tool shows, from the mean item index of a set of answers:
    NPS -100..100, CSAT %, CES / RATING mean answer on the survey's own scale."""
    if scale.kind is MeasureKind.NPS:
        return 2.0 * mean_index - 100.0
    if scale.kind is MeasureKind.CSAT:
        return mean_index
    place = mean_index / 100.0
    if not scale.higher_is_better:
        place = 1.0 - place
    return scale.low + place * (scale.high - scale.low)
