"""One text's reading: its language, and a sentiment only when the scorer can give one.

Empty text, text in a language the scorer does not read, and text in which it finds
nothing it knows are UNSCORED: kept out of every average, where a 0.0 would have passed
for "neutral" and pulled a bad touchpoint toward the middle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from backend.feedback.sentiment.language import detect
from backend.feedback.sentiment.scorer import Scorer
from backend.vocabulary.feedback import SentimentStatus

MAX_SCORED_CHARS = 5_000  # the opening of a long ticket carries its tone; the rest costs time


@dataclass(frozen=True)
class Reading:
    status: SentimentStatus
    sentiment: float | None  # -1..+1 when SCORED, else None
    language: str | None  # ISO 639-1 when detected


UNREADABLE = Reading(SentimentStatus.UNSCORED, None, None)


@lru_cache(maxsize=4096)  # feeds repeat themselves ("Great service!"): read each once
def read(text: str, scorer: Scorer) -> Reading:
    text = text.strip()[:MAX_SCORED_CHARS]
    if not text:
        return UNREADABLE
    language = detect(text)
    if language is not None and language not in scorer.languages:
        return Reading(SentimentStatus.UNSCORED, None, language)
    value = scorer.score(text, language)
    if value is None:
        return Reading(SentimentStatus.UNSCORED, None, language)
    return Reading(SentimentStatus.SCORED, max(-1.0, min(1.0, value)), language)
