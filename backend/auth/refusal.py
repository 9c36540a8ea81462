"""Why a credential that was sent signs no one in."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why a credential that was sent signs no one in, as a client may be told: the
    holder of a secret learns only whether that secret has run out."""

    EXPIRED = "EXPIRED"  # it was good, and its time is over: get a new one
    INVALID = "INVALID"  # unknown, malformed, revoked, or its user deactivated


def refusal_of(expired: bool) -> Refusal:
    return Refusal.EXPIRED if expired else Refusal.INVALID
