"""How often the sentiment scorer gets a feedback text right, against the labelled set
tests/feedback/sentiment_set.jsonl, next to the former scorer (TextBlob) on the same set.

    .venv/bin/python -m bench.sentiment_accuracy

Prints a Markdown table per scorer. A text is "right" when a positive one scores at
least +NEUTRAL_BAND, a negative one at most -NEUTRAL_BAND, a neutral one in between;
an unscored text is never right, and never wrong-signed either: it is left out of the
averages rather than counted as neutral. The former scorer stored every non-empty text,
so its unscored column is empty and its non-English texts count as 0.0.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

SET = Path(__file__).resolve().parent.parent / "tests" / "feedback" / "sentiment_set.jsonl"
NEUTRAL_BAND = 0.05  # VADER's own convention for "neutral" (|compound| < 0.05)
POLAR = ("positive", "negative")
CATEGORIES = (
    "survey",
    "ticket",
    "review",
    "negation",
    "sarcasm",
    "intensifier",
    "emoji",
    "mixed",
    "short",
    "language",
)

Score = Callable[[str], float | None]


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # positive, negative or neutral
    language: str  # ISO 639-1, as written
    category: str


def load_set(path: Path = SET) -> list[Example]:
    with path.open(encoding="utf-8") as lines:
        return [Example(**json.loads(line)) for line in lines if line.strip()]


def verdict(label: str, value: float) -> str:
    """right, wrong sign (the opposite pole), or off (neutral taken for polar, or back)."""
    said = (
        "positive" if value >= NEUTRAL_BAND else "negative" if value <= -NEUTRAL_BAND else "neutral"
    )
    if said == label:
        return "right"
    return "wrong sign" if {said, label} == set(POLAR) else "off"


@dataclass
class Tally:
    n: int = 0
    scored: int = 0
    right: int = 0
    wrong_sign: int = 0
    zero: int = 0  # stored as exactly 0.0

    def add(self, example: Example, value: float | None) -> None:
        self.n += 1
        if value is None:
            return
        self.scored += 1
        self.zero += value == 0.0
        found = verdict(example.label, value)
        self.right += found == "right"
        self.wrong_sign += found == "wrong sign"

    @staticmethod
    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def accuracy(self) -> float:
        return self.share(self.right, self.n)

    @property
    def coverage(self) -> float:
        return self.share(self.scored, self.n)


@dataclass
class Figures:
    english_polar: Tally = field(default_factory=Tally)
    # The same without the sarcastic ones, which a lexicon scorer cannot see through.
    english_polar_plain: Tally = field(default_factory=Tally)
    english_neutral: Tally = field(default_factory=Tally)
    other_languages: Tally = field(default_factory=Tally)
    everything: Tally = field(default_factory=Tally)
    by_category: dict[str, Tally] = field(default_factory=dict)
    values: dict[str, float | None] = field(default_factory=dict)


def evaluate(score: Score, examples: Iterable[Example]) -> Figures:
    figures = Figures()
    for example in examples:
        value = score(example.text)
        figures.values[example.text] = value
        figures.everything.add(example, value)
        figures.by_category.setdefault(example.category, Tally()).add(example, value)
        if example.language != "en":
            figures.other_languages.add(example, value)
        elif example.label in POLAR:
            figures.english_polar.add(example, value)
            if example.category != "sarcasm":
                figures.english_polar_plain.add(example, value)
        else:
            figures.english_neutral.add(example, value)
    return figures


def waypost_scorer() -> Score:
    from backend.feedback.sentiment import load_scorer, read
    from backend.settings import get_settings

    scorer = load_scorer(get_settings().sentiment_scorer)
    return lambda text: read(text, scorer).sentiment


def textblob_scorer() -> Score:
    """The former scorer as it stored texts: TextBlob's polarity, None only when empty."""
    from textblob import TextBlob

    def score(text: str) -> float | None:
        text = text.strip()[:5_000]
        return max(-1.0, min(1.0, float(TextBlob(text).sentiment.polarity))) if text else None

    return score


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def table(figures: Figures) -> str:
    rows = [
        "| texts | n | scored | right | wrong sign | stored as 0.0 |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def line(name: str, t: Tally) -> None:
        rows.append(
            f"| {name} | {t.n} | {_percent(t.coverage)} | {_percent(t.accuracy)} | "
            f"{_percent(t.share(t.wrong_sign, t.n))} | {_percent(t.share(t.zero, t.n))} |"
        )

    line("**English, positive or negative**", figures.english_polar)
    line("**English, positive or negative, not sarcastic**", figures.english_polar_plain)
    line("**English, neutral**", figures.english_neutral)
    line("**not English**", figures.other_languages)
    line("**all**", figures.everything)
    for category in CATEGORIES:
        if category in figures.by_category:
            line(category, figures.by_category[category])
    return "\n".join(rows)


def main() -> None:
    examples = load_set()
    print(f"{len(examples)} labelled texts ({SET.name}); neutral band ±{NEUTRAL_BAND}\n")
    for name, scorer in (
        ("VADER (now)", waypost_scorer()),
        ("TextBlob (before)", textblob_scorer()),
    ):
        print(f"### {name}\n\n{table(evaluate(scorer, examples))}\n")


if __name__ == "__main__":
    main()
