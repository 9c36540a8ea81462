"""Scalars that differ from strawberry's defaults, and why."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

EXAMPLE = "2026-01-31T09:00:00Z"


def _parse_datetime(value: object) -> datetime:
    # A time without an offset means a different instant in each tenant's zone: refuse it
    # with a located error instead of guessing (or failing later, at the database). A
    # GraphQL error, so that the answer shows it rather than masking it as unexpected.
    if not isinstance(value, str):
        raise _refused(value, f"expected an ISO 8601 string like {EXAMPLE}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _refused(value, f"not an ISO 8601 date and time like {EXAMPLE}") from None
    if parsed.tzinfo is None:
        raise _refused(value, f"it needs a UTC offset, like {EXAMPLE}")
    return parsed


def _refused(value: object, why: str) -> StrawberryInputCoercionError:
    return StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{value}": {why}.')


AWARE_DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description=f"An instant: ISO 8601 date and time with its UTC offset, like {EXAMPLE}.",
    serialize=lambda value: value.isoformat(),
    parse_value=_parse_datetime,
)

SCALARS: dict[object, ScalarDefinition] = {datetime: AWARE_DATETIME}
