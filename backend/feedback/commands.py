"""What callers ask of the feedback services: typed, checked by the services.

Every door (GraphQL, HTTP ingestion, file imports) reads its own input into these;
the rules (lengths, ranges, which enum values exist) are the service's to check, so
an item with several problems is told the same first one whatever the door.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from backend.errors import DomainError
from backend.patch import UNSET, Maybe
from backend.vocabulary.feedback import MeasureKind


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """One thing a customer said, as a door read it.

    ``source``, ``channel`` and ``measure`` are an enum member or its value (a door
    reading JSON has only the text); the service checks they name one.
    """

    source: str
    external_id: str
    channel: str | None = None
    measure: str | None = None
    measure_value: int | None = None
    text: str | None = None
    tags: Sequence[str] = ()
    customer_ref: str | None = None
    occurred_at: datetime | None = None
    journey_map_id: UUID | None = None
    stage_id: UUID | None = None
    touchpoint_id: UUID | None = None
    persona_id: UUID | None = None
    event_name: str | None = None
    url: str | None = None
    survey_id: str | None = None
    # The survey definition its measure answered: the newest version of this key.
    survey_key: str | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An item a door could not even read (a malformed id, a value of the wrong JSON
    type): rejected as such, in its place in the batch."""

    error: DomainError


ItemInput = FeedbackItem | Unreadable


@dataclass(frozen=True, slots=True)
class SubmitFeedback:
    """A batch of items for one workspace; with ``all_or_nothing`` one rejected item
    keeps them all out."""

    workspace_id: UUID
    items: Sequence[ItemInput]
    all_or_nothing: bool = False


@dataclass(frozen=True, slots=True)
class CreateSurveyDefinition:
    """A survey question the workspace's feedback can name by ``key``: version 1."""

    workspace_id: UUID
    key: str
    measure: MeasureKind
    scale_min: int
    scale_max: int
    higher_is_better: bool = True
    question: str | None = None


@dataclass(frozen=True, slots=True)
class ReviseSurveyDefinition:
    """A new version of the key of ``definition_id``: the newest version with the fields
    given changed. Answers already in keep the version they named."""

    definition_id: UUID
    question: Maybe[str | None] = UNSET
    scale_min: Maybe[int] = UNSET
    scale_max: Maybe[int] = UNSET
    higher_is_better: Maybe[bool] = UNSET


@dataclass(frozen=True, slots=True)
class PlaceFeedback:
    """An editor puts one unplaced item on a touchpoint."""

    feedback_id: UUID
    touchpoint_id: UUID
