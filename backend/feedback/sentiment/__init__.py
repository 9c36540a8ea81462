"""Sentiment of feedback text: scored in the background, or honestly left unscored.

``scorer`` says what a scorer is and loads the configured one, ``vader`` is the default,
``language`` detects the language, ``reading`` turns one text into a status, a value and
a language, and ``step`` applies that to stored feedback (the worker's step, and the
re-scoring of a workspace).
"""

from __future__ import annotations

from backend.feedback.sentiment.reading import Reading, read
from backend.feedback.sentiment.scorer import Scorer, load_scorer
from backend.feedback.sentiment.step import Rescored, rescore_after, score_feedback

__all__ = [
    "Reading",
    "Rescored",
    "Scorer",
    "load_scorer",
    "read",
    "rescore_after",
    "score_feedback",
]
