"""The shared input checks: caps before work, poison refused with the field named, the
range of times we take."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend import validation
from backend.errors import ValidationFailed
from backend.feedback import service
from graphql_schema import input_guard


class Watched(list[str]):
    """A list that counts the items read from it."""

    read = 0

    def __iter__(self) -> Iterator[str]:
        for item in super().__iter__():
            self.read += 1
            yield item


def test_a_list_over_its_cap_is_refused_before_an_item_is_read() -> None:
    values = Watched(["same"] * 100_000)
    with pytest.raises(ValidationFailed) as refused:
        validation.text_list(values, field="goals")
    assert (refused.value.field, refused.value.message) == ("goals", "At most 50 items.")
    assert values.read == 0


def test_a_list_is_trimmed_and_deduplicated_keeping_the_first() -> None:
    values = Watched([" b", "a", "b ", "a", "c"])
    assert validation.text_list(values, field="tags") == ["b", "a", "c"]
    assert values.read == 5  # one pass


def test_a_long_string_is_refused_by_its_length_alone() -> None:
    with pytest.raises(ValidationFailed) as refused:
        validation.required_text("\x00" * 1_000_000, field="name", max_length=120)
    assert refused.value.message == "Must be at most 120 characters."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\x00b", "Must not contain control characters."),
        ("a\x07b", "Must not contain control characters."),
        ("\udfff", "Must be valid Unicode text (a lone surrogate, U+D800 to U+DFFF, is not)."),
        ("x\ud83d", "Must be valid Unicode text (a lone surrogate, U+D800 to U+DFFF, is not)."),
    ],
)
def test_nul_controls_and_lone_surrogates_are_refused_with_the_field(
    value: str, message: str
) -> None:
    for check in (validation.required_text, validation.optional_text, validation.search_text):
        with pytest.raises(ValidationFailed) as refused:
            check(value, field="where")
        assert (refused.value.field, refused.value.message) == ("where", message)
    with pytest.raises(ValidationFailed) as refused:
        validation.text_list(["ok", value], field="tags")
    assert refused.value.field == "tags[1]"


def test_text_keeps_tabs_newlines_and_every_real_character() -> None:
    text = "line one\n\tline two\r\n😀 Ünïcode ✓"
    assert validation.optional_text(text, field="text") == text
    assert validation.string_problem(text) is None


def test_a_search_pattern_is_capped_and_blank_means_none() -> None:
    assert validation.search_text("  ", field="search") is None
    assert validation.search_text(" pare ", field="search") == "pare"
    with pytest.raises(ValidationFailed) as refused:
        validation.search_text("a" * (validation.MAX_SEARCH_LENGTH + 1), field="search")
    assert refused.value.field == "search"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))),
        datetime(2200, 12, 31, 10, 0, tzinfo=timezone(timedelta(hours=-13, minutes=-59))),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    ],
)
def test_times_in_range_are_taken_in_utc(moment: datetime) -> None:
    taken = validation.instant(moment, field="at")
    assert taken == moment
    assert taken.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # 1 BC in UTC
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))),  # year 10000
        datetime(1899, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2201, 1, 1, tzinfo=UTC),
        datetime(2200, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=14, minutes=1))),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-20))),
        datetime(2024, 1, 1),  # no offset
    ],
)
def test_times_outside_the_range_are_refused_without_converting_them(moment: datetime) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validation.instant(moment, field="occurredAt")
    assert refused.value.field == "occurredAt"


def test_the_api_ceilings_are_above_every_field_cap() -> None:
    assert validation.MAX_STRING >= service.MAX_TEXT
    assert validation.MAX_LIST >= service.MAX_BATCH
    assert input_guard.MAX_LIST > validation.MAX_LIST
    assert input_guard.MAX_STRING >= validation.MAX_STRING
