"""Which language a feedback text is in, offline (py3langid, a naive Bayes model over
byte n-grams shipped inside the package).

Only when it is clear: a text of fewer than ``MIN_LETTERS`` letters, or one the model is
less than ``MIN_CONFIDENCE`` sure of, has no detected language. "Super!" is English,
French, German and Dutch alike, and a guess would be stored as a fact.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

# The languages feedback is told apart among. A closed list keeps the model from
# answering Afrikaans or Breton for a short English text; the other scripts are here
# so that a Japanese or Russian text is recognised as such, not as a Latin-script guess.
LANGUAGES = (
    *("en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "no", "fi", "pl", "cs", "tr"),
    *("el", "ru", "uk", "ar", "he", "hi", "ja", "ko", "zh"),
)
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.8


@cache
def _identifier() -> Any:
    # Loaded on first use: the model takes a fraction of a second to read.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(LANGUAGES)
    return identifier


def letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


@lru_cache(maxsize=4096)
def detect(text: str) -> str | None:
    """The text's language (ISO 639-1), or None when it is too short or unclear."""
    if letters(text) < MIN_LETTERS:
        return None
    language, confidence = _identifier().classify(text)
    return str(language) if confidence >= MIN_CONFIDENCE else None
