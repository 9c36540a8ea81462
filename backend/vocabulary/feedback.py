"""The words of feedback: where it came from, and how it was measured."""

from __future__ import annotations

from enum import StrEnum


class FeedbackSource(StrEnum):
    SURVEY = "SURVEY"
    INTERVIEW = "INTERVIEW"
    SUPPORT_TICKET = "SUPPORT_TICKET"
    REVIEW = "REVIEW"
    SOCIAL = "SOCIAL"
    ANALYTICS = "ANALYTICS"
    OTHER = "OTHER"


class MeasureKind(StrEnum):
    CSAT = "CSAT"  # 1..5, higher is better
    NPS = "NPS"  # 0..10
    CES = "CES"  # 1..7, lower effort is better
    RATING = "RATING"  # 1..5


MEASURE_RANGES: dict[MeasureKind, tuple[int, int]] = {
    MeasureKind.CSAT: (1, 5),
    MeasureKind.NPS: (0, 10),
    MeasureKind.CES: (1, 7),
    MeasureKind.RATING: (1, 5),
}
