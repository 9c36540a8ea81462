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
    CES = "CES"  # 1..7, "it was easy to ..." agreement (CES 2.0): higher is better
    RATING = "RATING"  # 1..5


class SentimentStatus(StrEnum):
    """Where a feedback text stands with the sentiment scorer.

    UNSCORED is a verdict, not a gap: the text is empty, too short, or in a language
    the scorer does not read. It is never counted as neutral.
    """

    PENDING = "PENDING"  # not looked at yet
    SCORED = "SCORED"
    UNSCORED = "UNSCORED"


class Placement(StrEnum):
    """How a feedback item found (or did not find) its place on a journey."""

    LINKED = "LINKED"  # the sender named its touchpoint, stage or map
    MATCHED = "MATCHED"  # exactly one touchpoint lists one of its match keys
    AMBIGUOUS = "AMBIGUOUS"  # several touchpoints do: an editor chooses
    UNMATCHED = "UNMATCHED"  # it carries match keys that no touchpoint lists
    ASSIGNED = "ASSIGNED"  # an editor placed it by hand
    NONE = "NONE"  # no link and no match key: workspace-wide feedback
