"""The default scorer: VADER (vaderSentiment), English, offline.

VADER is a rule-based lexicon scorer made for short informal text: it weighs negation
("not helpful at all"), intensifiers ("really", "extremely"), a "but" that shifts the
weight to what follows, ALL CAPS, repeated "!" and emoji (each read as its Unicode name).
Its lexicon ships inside the package; nothing is downloaded.

Two additions, both small and listed here so they can be argued with:
- emoji whose Unicode name carries no tone ("pouting face", "thumbs up") are read as a
  word of the same tone, so "😡😡" is angry and "👍" good rather than nothing;
- words that are plainly negative or positive in customer feedback but missing from
  VADER's social-media lexicon ("crashed", "unusable", "overcharged", "seamless").
VADER does not see sarcasm: "Great, another hour on hold" scores positive (see
docs/health-score.md, "Sentiment", known limits).
"""

from __future__ import annotations

from typing import Any

# Emoji presentation selectors and joiners: "❤️" is "❤" followed by U+FE0F, which VADER
# would glue to the emoji's name ("heart\ufe0f") and so miss the word.
INVISIBLE = str.maketrans("", "", "\ufe0e\ufe0f\u200d")
# Emoji read as a word of the same tone (the word must be in VADER's lexicon).
EMOJI_AS_WORD = {
    "😡": "angry",
    "🤬": "furious",
    "😠": "angry",
    "😤": "annoyed",
    "😒": "annoyed",
    "🙄": "annoyed",
    "🤮": "disgusting",
    "🤦": "frustrated",
    "😣": "frustrated",
    "😖": "miserable",
    "💔": "heartbroken",
    "👎": "bad",
    "👍": "good",
    "👏": "applause",
    "💯": "perfect",
}
# Customer-feedback words VADER's lexicon lacks, on its -4..+4 valence scale.
FEEDBACK_WORDS = {
    "crashed": -1.7,
    "crashes": -1.7,
    "crashing": -1.7,
    "unusable": -2.2,
    "unhelpful": -1.8,
    "unresponsive": -1.6,
    "overcharged": -2.0,
    "overpriced": -1.8,
    "ripoff": -2.3,
    "buggy": -1.8,
    "glitch": -1.3,
    "glitchy": -1.5,
    "laggy": -1.4,
    "outage": -1.8,
    "nightmare": -2.5,
    "hassle": -1.5,
    "slow": -1.2,
    "rubbish": -2.0,
    # A request's politeness, not a feeling: "Please update my address" is neutral.
    "please": 0.0,
    "seamless": 1.8,
    "smooth": 1.5,
}


class VaderScorer:
    """English. A text whose language could not be told (short, or only emoji) is scored
    only when VADER finds a word or emoji it knows the tone of: "great" and "👍" are
    scored, "Prima" and "✅" are not (they may be another language's words, or nothing)."""

    languages = frozenset({"en"})

    def __init__(self) -> None:
        # Imported here: the lexicon takes a tenth of a second to load.
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer: Any = SentimentIntensityAnalyzer()
        self._analyzer.emojis.update(EMOJI_AS_WORD)
        self._analyzer.lexicon.update(FEEDBACK_WORDS)

    def score(self, text: str, language: str | None) -> float | None:
        scores = self._analyzer.polarity_scores(text.translate(INVISIBLE))
        if language is None and scores["pos"] + scores["neg"] == 0:
            return None  # nothing it knows: silence, not neutrality
        return max(-1.0, min(1.0, float(scores["compound"])))
