"""Which fields of a GraphQL input the caller actually sent (a partial update's fields)."""

from __future__ import annotations

from typing import Any

import strawberry

from backend.errors import ValidationFailed


def given(
    input: object, names: tuple[str, ...], *, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The input's fields the caller actually sent (UNSET ones are left out).

    An explicit null on a required field is a located validation error.
    """
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(input, name, strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        if value is None and name in required:
            raise ValidationFailed("Must not be null.", field=name)
        values[name] = value
    return values
