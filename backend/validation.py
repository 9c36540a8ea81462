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
