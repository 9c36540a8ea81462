"""Themes: what customers talk about in a subject's verbatims, split by how they felt.

YAKE (an offline, unsupervised keyword extractor) proposes key phrases from all
the negative (or all the positive) texts read as one document; phrases are then
reduced to their content words (no stopwords, no digits, crude singulars), a
phrase containing a shorter one joins it ("hold time" joins "hold"), and each
theme is counted as the number of feedback items that mention it. Words that only
carry a feeling ("great", "terrible") are not themes: the list they sit in says
that already. Texts whose sentiment is unknown are not guessed into either list.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from uuid import UUID

NEGATIVE_BELOW = -0.05  # VADER's usual cut-offs for a negative / positive text
POSITIVE_ABOVE = 0.05
DEFAULT_LANGUAGE = "en"  # texts with no detected language are read as English
MIN_MENTIONS = 2  # one customer's phrase is an anecdote, not a theme
LIMIT = 5  # themes per list
EXAMPLES = 3  # feedback ids shown per theme
CANDIDATES = 40  # YAKE phrases considered per language and list
MAX_WORDS = 3  # longest phrase YAKE proposes
SAME_ITEMS = 0.8  # two themes mentioned by (nearly) the same items are one theme

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
# French and Italian elisions ("l'attente", "d'attesa"): the word is what follows.
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|dell|all|dall|nell|sull)'", re.IGNORECASE)


def _plain(text: str) -> str:
    return _ELISION.sub("", text.replace("\u2019", "'")).lower()


@dataclass(frozen=True, slots=True)
class Verbatim:
    """One feedback text, newest first in any sequence given to ``themes``."""

    feedback_id: UUID
    text: str
    sentiment: float | None  # None: not scored (unknown), never read as neutral
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Theme:
    phrase: str
    count: int  # feedback items that mention it
    examples: tuple[UUID, ...]  # the most recent of them


@dataclass(frozen=True, slots=True)
class Themes:
    negative: tuple[Theme, ...]
    positive: tuple[Theme, ...]
    read: int  # texts looked at
    unscored: int  # of those, with no sentiment: in neither list


def singular(word: str) -> str:
    """A crude English singular: enough to put "minutes" with "minute"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@cache
def _stopwords(language: str) -> frozenset[str]:
    import yake  # imported on first use: only explanations need it

    return frozenset(yake.KeywordExtractor(lan=language).stopword_set)


@cache
def _feeling_words() -> frozenset[str]:
    """Words whose meaning is mostly a feeling (VADER's lexicon, valence of 1.5 or more)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon
    return frozenset(word for word, valence in lexicon.items() if abs(valence) >= 1.5)


def content_words(text: str, language: str) -> tuple[str, ...]:
    stop = _stopwords(language)
    return tuple(
        singular(word) for word in _WORD.findall(_plain(text)) if word not in stop and len(word) > 1
    )


def _key_phrases(texts: Sequence[str], language: str) -> list[tuple[str, float]]:
    import yake

    if not texts:
        return []
    # One document, one sentence per feedback item: YAKE weighs a word by how
    # often and how spread out it occurs, which across items is what we want.
    document = "\n".join(text.strip().rstrip(".!?") + "." for text in texts)
    extractor = yake.KeywordExtractor(lan=language, n=MAX_WORDS, top=CANDIDATES)
    return [(phrase, float(score)) for phrase, score in extractor.extract_keywords(document)]


@dataclass
class _Candidate:
    phrase: str
    words: frozenset[str]
    rank: int  # YAKE's order: lower is more distinctive
    mentions: list[int]  # indexes of the items that mention it, newest first


def _one_list(items: Sequence[Verbatim]) -> tuple[Theme, ...]:
    by_language: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_language[_language(item.language)].append(index)
    feelings = _feeling_words()
    candidates: list[_Candidate] = []
    for language, indexes in by_language.items():
        words_of = {i: frozenset(content_words(items[i].text, language)) for i in indexes}
        phrases = _key_phrases([items[i].text for i in indexes], language)
        for rank, (phrase, _score) in enumerate(phrases):
            words = frozenset(content_words(phrase, language))
            if not words or words <= feelings:
                continue
            mentions = [i for i in indexes if words <= words_of[i]]
            candidates.append(_Candidate(_plain(phrase), words, rank, mentions))
    return _grouped(candidates, items)


def _grouped(candidates: list[_Candidate], items: Sequence[Verbatim]) -> tuple[Theme, ...]:
    heads: list[_Candidate] = []
    # Shortest first: a longer phrase that contains a theme's words is that theme.
    for candidate in sorted(candidates, key=lambda c: (len(c.words), c.rank)):
        if any(head.words <= candidate.words for head in heads):
            continue
        if len(candidate.mentions) >= MIN_MENTIONS:
            heads.append(candidate)
    heads.sort(key=lambda c: (-len(c.mentions), c.rank))
    kept: list[_Candidate] = []
    for head in heads:
        mentions = set(head.mentions)
        if any(_overlap(mentions, set(k.mentions)) >= SAME_ITEMS for k in kept):
            continue  # "parcel" and "damaged" in the same items: one theme, the first
        kept.append(head)
        if len(kept) == LIMIT:
            break
    return tuple(
        Theme(
            phrase=head.phrase,
            count=len(head.mentions),
            examples=tuple(items[i].feedback_id for i in sorted(head.mentions)[:EXAMPLES]),
        )
        for head in kept
    )


def _overlap(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b)


def _language(code: str | None) -> str:
    return (code or DEFAULT_LANGUAGE)[:2].lower()


def themes(items: Iterable[Verbatim]) -> Themes:
    """The top negative and positive themes of these texts (given newest first)."""
    read = [item for item in items if item.text.strip()]
    negative = [i for i in read if i.sentiment is not None and i.sentiment < NEGATIVE_BELOW]
    positive = [i for i in read if i.sentiment is not None and i.sentiment > POSITIVE_ABOVE]
    return Themes(
        negative=_one_list(negative),
        positive=_one_list(positive),
        read=len(read),
        unscored=sum(1 for i in read if i.sentiment is None),
    )
