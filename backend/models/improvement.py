"""Initiatives and metrics: the improvement work and what it is measured by."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped, WorkspaceScoped
from backend.db.types import JSONDocument, enum_column
from backend.vocabulary.initiatives import InitiativeStatus
from backend.vocabulary.metrics import MetricDirection, MetricSource


class Initiative(WorkspaceScoped, Timestamped, Base):
    """Links to touchpoints and pain points are id lists, read against what still exists."""

    __tablename__ = "initiatives"
    __table_args__ = (
        Index("ix_initiatives_workspace_id_priority", "workspace_id", "priority"),
        CheckConstraint("impact BETWEEN 1 AND 5", name="impact_range"),
        CheckConstraint("effort BETWEEN 1 AND 5", name="effort_range"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_range"),
        CheckConstraint("reach >= 0", name="reach_positive"),
    )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[InitiativeStatus] = mapped_column(
        enum_column(InitiativeStatus, "initiative_status"), default=InitiativeStatus.IDEA
    )
    owner_id: Mapped[UUID | None]
    department: Mapped[str] = mapped_column(String(120), default="")
    impact: Mapped[int] = mapped_column(Integer, default=3)
    effort: Mapped[int] = mapped_column(Integer, default=3)
    confidence: Mapped[float] = mapped_column(Float, default=0.5)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    # RICE, kept for ordering: reach x impact x confidence / effort.
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    touchpoint_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    pain_point_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    target_metric_id: Mapped[UUID | None]
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    shipped_at: Mapped[datetime | None]
    created_by: Mapped[UUID | None]


class Metric(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "metrics"

    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40), default="")
    direction: Mapped[MetricDirection] = mapped_column(
        enum_column(MetricDirection, "metric_direction", length=20)
    )
    target: Mapped[float | None] = mapped_column(Float)
    # Exactly one of these: what it measures.
    journey_map_id: Mapped[UUID | None]
    stage_id: Mapped[UUID | None]
    touchpoint_id: Mapped[UUID | None]


class MetricValue(WorkspaceScoped, Base):
    """One observation; a second one at the same moment replaces it (idempotent resends)."""

    __tablename__ = "metric_values"
    __table_args__ = (UniqueConstraint("workspace_id", "metric_id", "observed_at"),)

    metric_id: Mapped[UUID]
    value: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime]
    source: Mapped[MetricSource] = mapped_column(enum_column(MetricSource, "metric_source"))
    recorded_at: Mapped[datetime]
