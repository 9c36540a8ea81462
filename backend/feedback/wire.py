"""Feedback items as outside systems send them (camelCase JSON, or the CSV columns of
the same names) read into commands: an HTTP body, a line of an NDJSON file, a CSV row.

Every reader of outside items goes through ``read_item`` (or ``read_typed``), so a
file takes exactly what ``POST /ingest/v1/feedback`` takes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from backend.errors import ValidationFailed
from backend.feedback.checks import MAX_BATCH, MAX_TAGS
from backend.feedback.commands import FeedbackItem, ItemInput, Unreadable
from backend.validation import list_length

# camelCase on the wire, as in GraphQL: each with the command's field it fills and the
# JSON type it must have.
FIELDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "source": ("source", (str,)),
    "externalId": ("external_id", (str,)),
    "channel": ("channel", (str,)),
    "measure": ("measure", (str,)),
    "measureValue": ("measure_value", (int,)),
    "text": ("text", (str,)),
    "tags": ("tags", (list,)),
    "customerRef": ("customer_ref", (str,)),
    "occurredAt": ("occurred_at", (str,)),
    "eventName": ("event_name", (str,)),
    "url": ("url", (str,)),
    "surveyId": ("survey_id", (str,)),
    "surveyKey": ("survey_key", (str,)),
}
REQUIRED = ("source", "externalId")

_NAMES = frozenset(FIELDS)
_WIRE_TYPES = {name: kinds for name, (_, kinds) in FIELDS.items()}
_KEYS = {name: key for name, (key, _) in FIELDS.items()}
_COLUMNS = {key: name for name, key in _KEYS.items()}


class UnknownField(ValidationFailed):
    """A field the wire format does not have; its ``field`` is the name as sent."""

    def __init__(self, name: str) -> None:
        super().__init__("Unknown field.", field=name)


def column_of(field: str) -> str:
    """A domain error's field as the wire (a file's column) names it: ``measure_value``
    is ``measureValue``; a path within one (``tags[2]``) stays as it is."""
    return _COLUMNS.get(field, field)


def read_body(body: bytes, content_type: str, *, max_items: int = MAX_BATCH) -> list[ItemInput]:
    """A JSON array, or NDJSON (one object a line), into items; the body as a whole must
    parse. More than ``max_items`` items are refused before any is read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("The body is not UTF-8.", field="body") from None
    if "ndjson" in content_type or "jsonlines" in content_type:
        # Split on line feeds only: splitlines() would also split inside a JSON string
        # holding U+2028 or another Unicode line break, which JSON allows unescaped.
        lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
        _at_most(lines, max_items)
        rows: list[Any] = []
        for number, line in lines:
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError):
                raise ValidationFailed(f"Line {number} is not JSON.", field="body") from None
    else:
        try:
            rows = json.loads(text)
        except (ValueError, RecursionError):
            raise ValidationFailed("The body is not JSON.", field="body") from None
        if not isinstance(rows, list):
            raise ValidationFailed("Send a JSON array of items (or NDJSON).", field="body")
        _at_most(rows, max_items)
    return [read_item(row) for row in rows]


def _at_most(rows: list[Any], max_items: int) -> None:
    # The same answer service.submit gives, before any item is read.
    if len(rows) > max_items:
        raise ValidationFailed(f"At most {max_items} items at once.", field="items")


def blank_values() -> dict[str, Any]:
    """An item with none of the fields, by the command's field names: for a reader that
    fills in the fields with their JSON types itself (the file import) before
    ``read_typed``."""
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)
    values["tags"] = []
    return values


def read_item(row: object) -> ItemInput:
    """One item as sent (camelCase, JSON types) into a command, or why not."""
    if not isinstance(row, dict):
        return Unreadable(ValidationFailed("Each item must be a JSON object."))
    if not _NAMES.issuperset(row):
        unknown = sorted(set(row) - _NAMES)
        return Unreadable(UnknownField(unknown[0]))
    for name in REQUIRED:
        if row.get(name) is None:
            return Unreadable(ValidationFailed("Required.", field=_KEYS[name]))
    values = blank_values()
    for name, value in row.items():
        if value is None:
            continue
        if type(value) not in _WIRE_TYPES[name]:
            # Not the plain JSON type: let the field-by-field reading name the first problem.
            return _read_fields(row)
        values[_KEYS[name]] = value
    return _finish(values)


def _read_fields(row: dict[str, Any]) -> ItemInput:
    """``read_item``'s checks field by field, in ``FIELDS`` order, so an item with several
    wrong types is told about the first of them."""
    values = blank_values()
    for name, (key, kinds) in FIELDS.items():
        value = row.get(name)
        if value is None:
            continue
        if not isinstance(value, kinds) or isinstance(value, bool):
            kind = " or ".join(k.__name__ for k in kinds)
            return Unreadable(ValidationFailed(f"Must be a {kind}.", field=key))
        values[key] = value
    return _finish(values)


def read_typed(values: dict[str, Any]) -> ItemInput:
    """What ``read_item`` checks of an item given by the command's field names already,
    with known fields of their JSON types only (a CSV row as the file import reads it):
    the required fields, the time and the tags. The same answer as ``read_item`` gives
    for the item in its camelCase form."""
    for name in REQUIRED:
        if values[_KEYS[name]] is None:
            return Unreadable(ValidationFailed("Required.", field=_KEYS[name]))
    return _finish(values)


def _finish(values: dict[str, Any]) -> ItemInput:
    try:
        list_length(values["tags"], field="tags", max_items=MAX_TAGS)  # before reading them
    except ValidationFailed as error:
        return Unreadable(error)
    if values["occurred_at"] is not None:
        try:
            moment = datetime.fromisoformat(values["occurred_at"])
        except ValueError:
            return Unreadable(ValidationFailed("Not an ISO 8601 time.", field="occurred_at"))
        if moment.tzinfo is None:
            return Unreadable(ValidationFailed("It needs a UTC offset.", field="occurred_at"))
        values["occurred_at"] = moment
    if not all(isinstance(tag, str) for tag in values["tags"]):
        return Unreadable(ValidationFailed("Tags are strings.", field="tags"))
    return FeedbackItem(**values)
