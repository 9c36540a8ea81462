"""What taking a batch in answers: each item accepted, a duplicate or rejected, and the
feedback row it stands for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import NotRequired, TypedDict
from uuid import UUID

from backend.errors import DomainError
from backend.models import Feedback
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, Placement, SentimentStatus
from backend.vocabulary.journeys import Channel


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


class FeedbackRow(TypedDict):
    """A feedback row's column values: checked and placed, then written (the keys marked
    not required are added just before the write, or come with a stored row)."""

    source: FeedbackSource
    external_id: str
    channel: Channel | None
    measure: MeasureKind | None
    measure_value: int | None
    text: str
    tags: list[str]
    customer_ref: str | None
    event_name: str | None
    url: str | None
    survey_id: str | None
    occurred_at: datetime
    journey_map_id: UUID | None
    stage_id: UUID | None
    touchpoint_id: UUID | None
    persona_id: UUID | None
    survey_definition_id: UUID | None
    sentiment_status: SentimentStatus
    language: str | None
    placement: Placement
    # The touchpoints (ids as text) an AMBIGUOUS item's keys fit.
    placement_candidates: list[str]
    workspace_id: NotRequired[UUID]
    sentiment: NotRequired[float | None]
    received_at: NotRequired[datetime]
    # A new row's id is text until someone asks for it (see Kept.id).
    id: NotRequired[UUID | str]


class Kept:
    """A feedback row as written (or as found stored): its column values, and the
    ``Feedback`` object built from them only when a caller asks (GraphQL shows it;
    ingestion and imports only count)."""

    __slots__ = ("_feedback", "values")

    def __init__(self, values: FeedbackRow) -> None:
        self.values = values
        self._feedback: Feedback | None = None

    @property
    def id(self) -> UUID:
        found = self.values["id"]
        if isinstance(found, str):
            found = self.values["id"] = UUID(found)
        return found

    @property
    def id_text(self) -> str:
        return str(self.values["id"])

    @property
    def feedback(self) -> Feedback:
        if self._feedback is None:
            self._feedback = Feedback(**{**self.values, "id": self.id})
        return self._feedback


@dataclass(slots=True)
class ItemResult:
    index: int
    status: Status
    errors: list[DomainError] = field(default_factory=list)
    kept: Kept | None = field(default=None, repr=False)

    @property
    def feedback(self) -> Feedback | None:
        """What was accepted, or for a duplicate what was kept the first time."""
        return self.kept.feedback if self.kept is not None else None

    @property
    def feedback_id(self) -> UUID | None:
        return self.kept.id if self.kept is not None else None

    @property
    def placement(self) -> Placement | None:
        """How the item (for a duplicate: the one kept first) was placed."""
        return self.kept.values["placement"] if self.kept is not None else None

    @property
    def candidates(self) -> list[str]:
        """The touchpoints (ids as text) an AMBIGUOUS item's keys fit."""
        return list(self.kept.values["placement_candidates"]) if self.kept is not None else []


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult]

    def count(self, status: Status) -> int:
        return self._counts.get(status, 0)

    def placements(self) -> Counter[Placement]:
        """How the items accepted now were placed."""
        return Counter(
            item.kept.values["placement"]
            for item in self.items
            if item.status is Status.ACCEPTED and item.kept is not None
        )

    @cached_property
    def _counts(self) -> Counter[Status]:
        return Counter(item.status for item in self.items)
