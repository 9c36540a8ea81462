"""Input checks shared by every door (GraphQL, HTTP ingestion, file imports); each failure
names the offending field.

Every check is linear in the size of its input, and every cap is checked before the work
it bounds: a list's length before its items are read, a string's length before it is
scanned. The caps are listed in docs/security.md ("Input limits").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from backend.errors import DomainError, InvalidInput, ValidationFailed

T = TypeVar("T")

# No field takes more: the longest text is 20,000 characters (feedback text), the longest
# list 1,000 items (a feedback batch). The GraphQL API refuses far bigger input before
# reading it (graphql_schema/input_guard.py); each field's own cap is its service's.
MAX_STRING = 20_000
MAX_LIST = 1_000

MAX_LIST_ITEMS = 50
MAX_ITEM_LENGTH = 500
MAX_TEXT_LENGTH = 10_000
MAX_SEARCH_LENGTH = 200

# Times are taken from 1900 to 2200 (in UTC), with an offset of at most 14 hours, which
# every real time zone keeps to. Outside that lies nothing a customer journey needs, and
# soon what a database or Python cannot represent (Postgres keeps "0001-01-01T00:00:00
# +14:00" as a year 1 BC that no Python datetime holds).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MAX_UTC_OFFSET = timedelta(hours=14)

# Pragmatic, not RFC 5322: one @, something on each side, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# What no string anywhere may hold: NUL (Postgres cannot store it) and lone surrogates
# (halves of UTF-16 pairs that JSON's "\udfff" escape can produce: no UTF-8 encoder, so
# no database driver and no JSON writer, takes them).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# And what no text field holds either: the other C0 controls (tab, line feed and carriage
# return are text) and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NOT_UNICODE = "Must be valid Unicode text (a lone surrogate, U+D800 to U+DFFF, is not)."
_NO_CONTROL = "Must not contain control characters."


class Checks:
    """Runs each check of an input and raises their failures together at the end
    (``InvalidInput``; one failure as itself), instead of stopping at the first:

        with Checks() as check:
            cleaned["name"] = check(required_text, fields.name, field="name")
    """

    def __init__(self) -> None:
        self.failures: list[DomainError] = []

    def __call__(self, rule: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return rule(*args, **kwargs)
        except InvalidInput as failures:  # a rule that checks a list item by item
            self.failures.extend(failures.failures)
        except ValidationFailed as failure:
            self.failures.append(failure)
        return None  # type: ignore[return-value]  # never used: the block raises

    def fail(self, failure: ValidationFailed) -> None:
        """A failure found by the caller's own rule (two fields against each other)."""
        self.failures.append(failure)

    def __enter__(self) -> Checks:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None and self.failures:
            raise self.failures[0] if len(self.failures) == 1 else InvalidInput(self.failures)


def string_problem(value: str, *, max_length: int = MAX_STRING) -> str | None:
    """Why no field could take ``value`` (too long, a NUL, a lone surrogate), else None."""
    if len(value) > max_length:
        return f"Must be at most {max_length} characters."
    if "\x00" in value:
        return _NO_CONTROL
    # isascii() is a flag Python keeps on the string: most values skip the scan.
    if not value.isascii() and _SURROGATE.search(value):
        return _NOT_UNICODE
    return None


def no_control_characters(value: str, *, field: str) -> str:
    found = _CONTROL.search(value)
    if found is not None:
        surrogate = "\ud800" <= found.group() <= "\udfff"
        raise ValidationFailed(_NOT_UNICODE if surrogate else _NO_CONTROL, field=field)
    return value


def _capped(value: str, *, field: str, max_length: int) -> str:
    # Before the scan and the trim: a long value costs a comparison, not a pass over it.
    if len(value) > max_length:
        raise ValidationFailed(f"Must be at most {max_length} characters.", field=field)
    return no_control_characters(value, field=field)


def required_text(value: str, *, field: str, max_length: int = 200) -> str:
    cleaned = _capped(value, field=field, max_length=max_length).strip()
    if not cleaned:
        raise ValidationFailed("Must not be blank.", field=field)
    return cleaned


def optional_text(value: str | None, *, field: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Free text that may be empty; None counts as empty."""
    return _capped(value or "", field=field, max_length=max_length).strip()


def search_text(
    value: str | None, *, field: str = "search", max_length: int = MAX_SEARCH_LENGTH
) -> str | None:
    """A search pattern: trimmed, None when blank. Capped: matching costs rows x length."""
    cleaned = optional_text(value, field=field, max_length=max_length)
    return cleaned or None


def email_address(value: str, *, field: str = "email") -> str:
    cleaned = value.strip().lower() if len(value) <= 320 else ""
    if not cleaned or _CONTROL.search(cleaned) or not _EMAIL.match(cleaned):
        raise ValidationFailed("Not a valid email address.", field=field)
    return cleaned


def slug(value: str, *, field: str = "slug") -> str:
    cleaned = value.strip().lower() if len(value) <= 200 else ""
    if not _SLUG.match(cleaned):
        raise ValidationFailed(
            "Use 1-63 lower-case letters, digits and hyphens, not starting or ending with "
            "a hyphen.",
            field=field,
        )
    return cleaned


def list_length(values: Sized | None, *, field: str, max_items: int) -> None:
    """Refuse a list over its cap, before any of its items is looked at."""
    if values is not None and len(values) > max_items:
        raise ValidationFailed(f"At most {max_items} items.", field=field)


def text_list(
    values: list[str] | None,
    *,
    field: str,
    max_items: int = MAX_LIST_ITEMS,
    max_length: int = MAX_ITEM_LENGTH,
) -> list[str]:
    """Trimmed, non-blank, de-duplicated (first occurrence wins) short texts.

    The cap counts the items as sent, duplicates included.
    """
    list_length(values, field=field, max_items=max_items)
    cleaned: dict[str, None] = {}  # ordered, and a membership test costs one hash
    with Checks() as check:  # every bad item, not just the first
        for index, value in enumerate(values or []):
            item = check(required_text, value, field=f"{field}[{index}]", max_length=max_length)
            if item is not None:
                cleaned[item] = None
    return list(cleaned)


def bounded_int(value: int | None, *, field: str, low: int, high: int) -> int | None:
    if value is not None and not low <= value <= high:
        raise ValidationFailed(f"Must be between {low} and {high}.", field=field)
    return value


def bounded_float(value: float | None, *, field: str, low: float, high: float) -> float | None:
    if value is not None and not (low <= value <= high):  # also refuses NaN
        raise ValidationFailed(f"Must be between {low} and {high}.", field=field)
    return value


def time_problem(value: datetime) -> str | None:
    """Why ``value`` is not a time we take (see ``EARLIEST``), else None."""
    offset = value.utcoffset()
    if offset is None:
        return "It needs a UTC offset."
    if abs(offset) > MAX_UTC_OFFSET:
        return "The UTC offset must be within 14 hours."
    # The year first: converting year 1 at +14:00 to UTC would leave what datetime holds.
    if not EARLIEST.year - 1 <= value.year <= LATEST.year + 1 or not (EARLIEST <= value <= LATEST):
        return f"Must be from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)."
    return None


def instant(value: datetime, *, field: str) -> datetime:
    """A time within the range we take, in UTC."""
    problem = time_problem(value)
    if problem is not None:
        raise ValidationFailed(problem, field=field)
    return value.astimezone(UTC)


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def http_url(value: str | None, *, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > 2000:
        raise ValidationFailed("Must be an http(s) URL.", field=field)
    cleaned = value.strip()
    if _CONTROL.search(cleaned) or not _URL.match(cleaned):
        raise ValidationFailed("Must be an http(s) URL.", field=field)
    return cleaned
