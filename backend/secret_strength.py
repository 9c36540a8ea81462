"""Is a secret key guessable? Length alone is not enough: forty spaces are forty characters."""

from __future__ import annotations

import itertools
import math
from collections import Counter

MIN_LENGTH = 32
MIN_DISTINCT = 6  # a random hex key of 32 characters uses at least 8 of its 16
# Characters x their observed information: a random hex key of 32 characters scores
# about 113 (never under 89 in 200,000 draws), forty copies of one character 0.
# Observed, not real, entropy: it catches keys a person typed or a template left.
MIN_ESTIMATED_BITS = 80


def weakness(secret: str, *, known: tuple[str, ...] = ()) -> str | None:
    """Why ``secret`` is too weak to sign and encrypt with, or None if it is not."""
    if not secret.strip():
        return "is empty or only whitespace"
    if secret.strip().casefold() in {value.casefold() for value in known}:
        return "is a published default"
    if len(secret) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if len(set(secret)) < MIN_DISTINCT:
        return f"uses fewer than {MIN_DISTINCT} different characters"
    if _repeats_a_pattern(secret):
        return "repeats a shorter sequence"
    if _mostly_runs(secret):
        return "is mostly runs of neighbouring characters (abcd…, 1234…, aaaa…)"
    if _estimated_bits(secret) < MIN_ESTIMATED_BITS:
        return "has too little variety to be random"
    return None


def _repeats_a_pattern(secret: str) -> bool:
    # s is a repetition of a shorter string exactly when it occurs inside s+s
    # other than at the start and the middle.
    return (secret + secret).find(secret, 1) < len(secret)


def _mostly_runs(secret: str) -> bool:
    steps = [abs(ord(b) - ord(a)) for a, b in itertools.pairwise(secret)]
    # Random hex steps by at most one about a fifth of the time; a run nearly always.
    return sum(step <= 1 for step in steps) * 4 >= len(steps) * 3


def _estimated_bits(secret: str) -> float:
    counts = Counter(secret).values()
    total = len(secret)
    per_character = -sum(n / total * math.log2(n / total) for n in counts)
    return per_character * total
