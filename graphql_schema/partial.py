"""Update inputs into typed commands: a field the caller left out becomes
``backend.patch.UNSET``; a null where the domain needs a value is a located error."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from backend.errors import ValidationFailed
from backend.patch import UNSET, Maybe

T = TypeVar("T")


def sent(value: T | None, field: str) -> Maybe[T]:
    """A field that may be left out but not sent as null (``field`` in snake_case)."""
    if value is strawberry.UNSET:
        return UNSET
    if value is None:
        raise ValidationFailed("Must not be null.", field=field)
    return value


def sent_or_null(value: T) -> Maybe[T]:
    """A field that may be left out, or sent as null to clear it."""
    return UNSET if value is strawberry.UNSET else value
