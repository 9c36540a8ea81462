"""Small input checks shared by services; each failure names the offending field."""

from __future__ import annotations

import re

from backend.errors import ValidationFailed

# Pragmatic, not RFC 5322: one @, something on each side, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


# Postgres cannot store NUL, and no one means other C0 controls in a name.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(value: str, *, field: str) -> str:
    if _CONTROL.search(value):
        raise ValidationFailed("Must not contain control characters.", field=field)
    return value


def required_text(value: str, *, field: str, max_length: int = 200) -> str:
    cleaned = no_control_characters(value, field=field).strip()
    if not cleaned:
        raise ValidationFailed("Must not be blank.", field=field)
    if len(cleaned) > max_length:
        raise ValidationFailed(f"Must be at most {max_length} characters.", field=field)
    return cleaned


def email_address(value: str, *, field: str = "email") -> str:
    cleaned = value.strip().lower()
    if len(cleaned) > 320 or _CONTROL.search(cleaned) or not _EMAIL.match(cleaned):
        raise ValidationFailed("Not a valid email address.", field=field)
    return cleaned


def slug(value: str, *, field: str = "slug") -> str:
    cleaned = value.strip().lower()
    if not _SLUG.match(cleaned):
        raise ValidationFailed(
            "Use 1-63 lower-case letters, digits and hyphens, not starting or ending with "
            "a hyphen.",
            field=field,
        )
    return cleaned


MAX_LIST_ITEMS = 50
MAX_ITEM_LENGTH = 500
MAX_TEXT_LENGTH = 10_000


def optional_text(value: str | None, *, field: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Free text that may be empty; None counts as empty."""
    cleaned = no_control_characters(value or "", field=field).strip()
    if len(cleaned) > max_length:
        raise ValidationFailed(f"Must be at most {max_length} characters.", field=field)
    return cleaned


def text_list(
    values: list[str] | None,
    *,
    field: str,
    max_items: int = MAX_LIST_ITEMS,
    max_length: int = MAX_ITEM_LENGTH,
) -> list[str]:
    """Trimmed, non-blank, de-duplicated (first occurrence wins) short texts."""
    cleaned: list[str] = []
    for index, value in enumerate(values or []):
        item = optional_text(value, field=f"{field}[{index}]", max_length=max_length)
        if not item:
            raise ValidationFailed("Must not be blank.", field=f"{field}[{index}]")
        if item not in cleaned:
            cleaned.append(item)
    if len(cleaned) > max_items:
        raise ValidationFailed(f"At most {max_items} items.", field=field)
    return cleaned


def bounded_int(value: int | None, *, field: str, low: int, high: int) -> int | None:
    if value is not None and not low <= value <= high:
        raise ValidationFailed(f"Must be between {low} and {high}.", field=field)
    return value


def bounded_float(value: float | None, *, field: str, low: float, high: float) -> float | None:
    if value is not None and not (low <= value <= high):  # also refuses NaN
        raise ValidationFailed(f"Must be between {low} and {high}.", field=field)
    return value


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def http_url(value: str | None, *, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > 2000 or _CONTROL.search(cleaned) or not _URL.match(cleaned):
        raise ValidationFailed("Must be an http(s) URL.", field=field)
    return cleaned
