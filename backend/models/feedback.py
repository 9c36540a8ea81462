"""Feedback rows: one per thing a customer said, idempotent on (workspace, source, external id)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, WorkspaceScoped
from backend.db.types import JSONDocument, ReportedDateTime, enum_column, utcnow
from backend.vocabulary.feedback import FeedbackSource, MeasureKind, Placement, SentimentStatus
from backend.vocabulary.journeys import Channel


class Feedback(WorkspaceScoped, Base):
    """Evidence about the journey.

    Its links to a map, stage, touchpoint and persona are plain ids, not foreign keys:
    feedback outlives the structure it was attached to (a touchpoint removed, a map
    restored to an older version), and reads join only what is still there.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("workspace_id", "source", "external_id"),
        Index("ix_feedback_workspace_id_touchpoint_id", "workspace_id", "touchpoint_id"),
        Index("ix_feedback_workspace_id_received_at", "workspace_id", "received_at"),
        # The queue of feedback waiting for an editor to place it.
        Index("ix_feedback_workspace_id_placement", "workspace_id", "placement"),
        Index("ix_feedback_id", "id"),  # by id with many workspaces bound (0027)
        CheckConstraint("sentiment BETWEEN -1 AND 1", name="feedback_sentiment_range"),
    )

    source: Mapped[FeedbackSource] = mapped_column(
        enum_column(FeedbackSource, "feedback_source", length=20)
    )
    external_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel, "feedback_channel"))
    journey_map_id: Mapped[UUID | None]
    stage_id: Mapped[UUID | None]
    touchpoint_id: Mapped[UUID | None]
    persona_id: Mapped[UUID | None]
    measure: Mapped[MeasureKind | None] = mapped_column(enum_column(MeasureKind, "measure_kind"))
    measure_value: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    sentiment: Mapped[float | None]  # -1..+1, computed from the text in the background
    sentiment_status: Mapped[SentimentStatus] = mapped_column(
        enum_column(SentimentStatus, "feedback_sentiment_status"),
        default=SentimentStatus.PENDING,
        server_default=SentimentStatus.PENDING.value,  # bulk inserts in SQL rely on it
    )
    language: Mapped[str | None] = mapped_column(String(16))  # detected, ISO 639-1
    # The survey (kind, scale, direction, question) the measure answered; None: the
    # kind's default scale (docs/health-score.md).
    survey_definition_id: Mapped[UUID | None]
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    customer_ref: Mapped[str | None] = mapped_column(String(200))
    # What it carried to find its touchpoint by (its match keys), kept as given.
    event_name: Mapped[str | None] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(2000))
    survey_id: Mapped[str | None] = mapped_column(String(500))
    occurred_at: Mapped[datetime] = mapped_column(ReportedDateTime())
    placement: Mapped[Placement] = mapped_column(
        enum_column(Placement, "feedback_placement"),
        default=Placement.NONE,
        server_default=Placement.NONE.value,
    )
    # The touchpoints an AMBIGUOUS item's keys fit (ids as strings), for the editor.
    placement_candidates: Mapped[list[str]] = mapped_column(
        JSONDocument, default=list, server_default="[]"
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackCountPart(WorkspaceScoped, Base):
    """A part of a workspace's number of feedback items: the total is the sum of its parts.

    On Postgres, statement-level triggers on ``feedback`` add a part of +n for each
    insert and of -n for each delete, in the same transaction (migration 0029), so any
    snapshot that sees the rows sees their count. Writers only ever add rows: no two
    transactions wait on one another for a count. The outbox's ``feedback.received``
    handler and the hourly housekeeping fold a workspace's parts into one
    (``backend.feedback.repository.count_parts``), so a read sums a few rows instead of
    counting every item. SQLite keeps none (its reads count).
    """

    __tablename__ = "feedback_count_parts"

    items: Mapped[int] = mapped_column(BigInteger)
