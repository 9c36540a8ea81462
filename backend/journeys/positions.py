"""Where a new or moved stage or touchpoint goes among its siblings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from backend.errors import ValidationFailed

T = TypeVar("T")


def insert_at(items: Sequence[T], item: T, position: int | None, *, field: str) -> list[T]:
    """``items`` with ``item`` at ``position`` (None: last); a position past the end is
    a located error."""
    if position is None:
        position = len(items)
    if not 0 <= position <= len(items):
        raise ValidationFailed(f"Must be between 0 and {len(items)}.", field=field)
    return [*items[:position], item, *items[position:]]
