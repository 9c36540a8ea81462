"""Sentiment of feedback text (-1..+1), scored in the background with TextBlob.

TextBlob's default analyzer is lexicon-based (the pattern library's English
lexicon, shipped inside the package): it runs offline, needs no model download
and scores a short text in well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.feedback.repository import FeedbackRepository

MAX_SCORED_CHARS = 5_000  # the opening of a long ticket carries its tone; the rest costs time


@cache
def _analyzer() -> Any:
    # Imported on first use: loading TextBlob (and NLTK) costs a second at start-up.
    from textblob import TextBlob

    return TextBlob


@lru_cache(maxsize=4096)  # feeds repeat themselves ("Great service!"): score each once
def score_text(text: str) -> float | None:
    """The text's polarity, or None for a text with nothing to score."""
    text = text.strip()[:MAX_SCORED_CHARS]
    if not text:
        return None
    polarity = float(_analyzer()(text).sentiment.polarity)
    return max(-1.0, min(1.0, polarity))


async def score_feedback(
    session: AsyncSession, workspace_id: UUID, feedback_ids: Iterable[UUID]
) -> set[UUID]:
    """Score the texts not scored yet; the touchpoints whose evidence changed.

    Already scored rows are left alone, so a redelivered event changes nothing.
    """
    repository = FeedbackRepository(session)
    ids = list(feedback_ids)
    changed: set[UUID] = set()
    for start in range(0, len(ids), 1000):
        for row in await repository.unscored(workspace_id, ids[start : start + 1000]):
            row.sentiment = score_text(row.text)
            if row.sentiment is not None and row.touchpoint_id is not None:
                changed.add(row.touchpoint_id)
    await repository.flush()
    return changed
