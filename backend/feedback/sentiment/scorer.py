"""What a sentiment scorer is, and which one this deployment uses.

A scorer reads some languages and nothing else. It answers a number from -1 (as negative
as text gets) to +1, or None when it cannot tell: None is kept as "unscored", never
counted as neutral. The default reads English (``vader.VaderScorer``); a deployment
plugs in another (a multilingual model) with WAYPOST_SENTIMENT_SCORER, the dotted path
of a class that takes no arguments (docs/health-score.md, "Sentiment").
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Protocol, runtime_checkable

DEFAULT_SCORER = "backend.feedback.sentiment.vader.VaderScorer"


@runtime_checkable
class Scorer(Protocol):
    # ISO 639-1 codes of the languages it reads. A text detected in any other language
    # is not given to it.
    languages: frozenset[str]

    def score(self, text: str, language: str | None) -> float | None:
        """-1..+1, or None: nothing here it can score.

        ``language`` is the detected language, one of ``languages``; None when the text
        is too short to tell or has no words at all (emoji, numbers).
        """
        ...

    # Readings are cached per scorer (reading.read): any object's default hash will do.
    def __hash__(self) -> int: ...


@cache
def load_scorer(dotted_path: str = DEFAULT_SCORER) -> Scorer:
    """One instance per process of the class named ``package.module.Class``."""
    module_name, _, class_name = dotted_path.rpartition(".")
    if not module_name:
        raise ValueError(f"sentiment scorer {dotted_path!r} is not a dotted path to a class")
    found = getattr(import_module(module_name), class_name, None)
    if found is None:
        raise ValueError(f"sentiment scorer {dotted_path!r}: no {class_name} in {module_name}")
    scorer = found()
    if not isinstance(scorer, Scorer):
        raise ValueError(
            f"sentiment scorer {dotted_path!r} needs a `languages` set and a "
            "`score(text, language)` method"
        )
    return scorer
