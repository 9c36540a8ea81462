"""The rules one feedback item must meet before it is placed and written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from backend.errors import NotFound, ValidationFailed
from backend.feedback.commands import FeedbackItem
from backend.feedback.results import FeedbackRow
from backend.feedback.surveys import scale_of
from backend.measures.scales import DEFAULT_SCALES
from backend.models import SurveyDefinition
from backend.validation import (
    MAX_LIST_ITEMS,
    bounded_int,
    instant,
    optional_text,
    required_text,
    text_list,
)
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, Placement, SentimentStatus
from backend.vocabulary.journeys import Channel

# Items a batch sent over the network (HTTP, GraphQL) may hold.
MAX_BATCH = 1000
MAX_TAGS = MAX_LIST_ITEMS
MAX_TEXT = 20_000

E = TypeVar("E", bound=StrEnum)


class _Members(Generic[E]):
    """An enum's members by value, and how to name them in an error."""

    def __init__(self, kind: type[E]) -> None:
        self.by_value: dict[object, E] = {member.value: member for member in kind}
        self.names = ", ".join(m.value for m in kind)

    def read(self, value: object, field: str) -> E:
        """``value`` as one of the members (a member itself, or its value)."""
        try:
            return self.by_value[value]
        except (KeyError, TypeError):
            raise ValidationFailed(f"Must be one of {self.names}.", field=field) from None


_SOURCES = _Members(FeedbackSource)
_MEASURES = _Members(MeasureKind)
_CHANNELS = _Members(Channel)


def _optional(value: str | None, field: str, max_length: int) -> str:
    # Absent is the common case: the same answer optional_text gives, without the work.
    return optional_text(value, field=field, max_length=max_length) if value else ""


def _survey_key(value: str) -> str:
    return required_text(value, field="survey_key", max_length=200)


def survey_keys(items: Iterable[FeedbackItem]) -> set[str]:
    """The survey keys these items name, as looked up (a key no survey could have,
    with a NUL say, is not looked up: its item is told so by ``check_item``)."""
    keys = set()
    for item in items:
        if item.survey_key is not None:
            try:
                keys.add(_survey_key(item.survey_key))
            except ValidationFailed:
                continue
    return keys


def check_item(
    item: FeedbackItem, now: datetime, surveys: Mapping[str, SurveyDefinition]
) -> FeedbackRow:
    """The item's row values, checked; errors name the item's field. ``surveys`` holds
    what each survey key the batch names stands for now.

    The checks run in this order, so an item with several problems reports the same
    first one whatever the door.
    """
    measure = _MEASURES.read(item.measure, "measure") if item.measure is not None else None
    value = item.measure_value
    survey: SurveyDefinition | None = None
    if item.survey_key is not None:
        survey = surveys.get(_survey_key(item.survey_key))
        if survey is None:
            raise NotFound("Survey definition", field="survey_key")
        if measure is None:
            measure = survey.measure  # the survey says what it measures
        elif measure is not survey.measure:
            raise ValidationFailed(f"The survey measures {survey.measure}.", field="measure")
    if (measure is None) != (value is None):
        raise ValidationFailed(
            "A measure and its value go together.",
            field="measure_value" if value is None else "measure",
        )
    if measure is not None:
        # On the survey's own scale, or on the kind's usual one when it names none.
        scale = scale_of(survey) if survey is not None else DEFAULT_SCALES[measure]
        bounded_int(value, field="measure_value", low=scale.low, high=scale.high)
    text = _optional(item.text, "text", MAX_TEXT)
    if measure is None and not text:
        raise ValidationFailed("Feedback needs a measure, a text, or both.", field="text")
    occurred = item.occurred_at
    if occurred is None:
        occurred = now
    else:
        # In UTC: Postgres is sent the time as text, which must be one it can hold.
        occurred = instant(occurred, field="occurred_at")
        if occurred > now:
            raise ValidationFailed("Feedback cannot come from the future.", field="occurred_at")
    source = _SOURCES.read(item.source, "source")
    external_id = required_text(item.external_id, field="external_id", max_length=200)
    tags = item.tags
    return {
        "source": source,
        "external_id": external_id,
        "channel": _CHANNELS.read(item.channel, "channel") if item.channel else None,
        "measure": measure,
        "measure_value": value,
        "text": text,
        "tags": text_list(
            tags if isinstance(tags, list) else list(tags),
            field="tags",
            max_items=MAX_TAGS,
            max_length=100,
        )
        if tags
        else [],
        "customer_ref": _optional(item.customer_ref, "customer_ref", 200) or None,
        "event_name": _optional(item.event_name, "event_name", 500) or None,
        "url": _optional(item.url, "url", 2000) or None,
        "survey_id": _optional(item.survey_id, "survey_id", 500) or None,
        "occurred_at": occurred,
        "journey_map_id": item.journey_map_id,
        "stage_id": item.stage_id,
        "touchpoint_id": item.touchpoint_id,
        "persona_id": item.persona_id,
        "survey_definition_id": survey.id if survey is not None else None,
        "sentiment_status": SentimentStatus.PENDING,
        "language": None,
        "placement": Placement.NONE,  # until the item is placed
        "placement_candidates": [],
    }
