"""Health tables: evidence per subject and metric, scores, daily history, pending passes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, WorkspaceScoped
from backend.db.types import JSONDocument, enum_column, utcnow


class HealthSubject(StrEnum):
    TOUCHPOINT = "TOUCHPOINT"
    STAGE = "STAGE"
    JOURNEY_MAP = "JOURNEY_MAP"
    WORKSPACE = "WORKSPACE"


def _count() -> Any:
    return mapped_column(Integer, default=0)


def _sum() -> Any:
    return mapped_column(Float, default=0.0)


class HealthEvidence(WorkspaceScoped, Base):
    """One subject's answers, summed per metric for the current and the previous window.

    ``id`` is the subject's id: a touchpoint, or a stage or map for feedback placed on
    it and on none of its touchpoints (``level`` says which). Per metric and window the
    item indexes' count, sum and sum of squares (``backend.measures.stats.Moments``), so
    a metric's mean and interval follow: ``<metric>_n``, ``<metric>_total`` and
    ``<metric>_total_sq`` for the current window, ``<metric>_previous_…`` for the one
    before (a count of 0: no answers). One row per subject, not per subject and metric:
    a full pass rewrites and reads back every row of its workspace. This is the only
    state derived from feedback: refreshing a subject rewrites its row from its
    feedback, and every score is computed from these rows and the structure, so an
    incremental pass and a full one meet in the same place.
    """

    __tablename__ = "health_evidence"

    level: Mapped[HealthSubject] = mapped_column(
        enum_column(HealthSubject, "health_evidence_level", length=16)
    )
    as_of: Mapped[datetime]
    csat_n: Mapped[int] = _count()
    csat_total: Mapped[float] = _sum()
    csat_total_sq: Mapped[float] = _sum()
    csat_previous_n: Mapped[int] = _count()
    csat_previous_total: Mapped[float] = _sum()
    csat_previous_total_sq: Mapped[float] = _sum()
    nps_n: Mapped[int] = _count()
    nps_total: Mapped[float] = _sum()
    nps_total_sq: Mapped[float] = _sum()
    nps_previous_n: Mapped[int] = _count()
    nps_previous_total: Mapped[float] = _sum()
    nps_previous_total_sq: Mapped[float] = _sum()
    ces_n: Mapped[int] = _count()
    ces_total: Mapped[float] = _sum()
    ces_total_sq: Mapped[float] = _sum()
    ces_previous_n: Mapped[int] = _count()
    ces_previous_total: Mapped[float] = _sum()
    ces_previous_total_sq: Mapped[float] = _sum()
    rating_n: Mapped[int] = _count()
    rating_total: Mapped[float] = _sum()
    rating_total_sq: Mapped[float] = _sum()
    rating_previous_n: Mapped[int] = _count()
    rating_previous_total: Mapped[float] = _sum()
    rating_previous_total_sq: Mapped[float] = _sum()
    sentiment_n: Mapped[int] = _count()
    sentiment_total: Mapped[float] = _sum()
    sentiment_total_sq: Mapped[float] = _sum()
    sentiment_previous_n: Mapped[int] = _count()
    sentiment_previous_total: Mapped[float] = _sum()
    sentiment_previous_total_sq: Mapped[float] = _sum()


class HealthScore(WorkspaceScoped, Base):
    """The latest score of a touchpoint, stage, map or the workspace (``id`` is the subject's)."""

    __tablename__ = "health_scores"
    # Subjects are looked up by id for callers bound to many workspaces (an agency):
    # the key (workspace_id, id) would be probed once per bound workspace.
    __table_args__ = (Index("ix_health_scores_id", "id"),)

    subject_type: Mapped[HealthSubject] = mapped_column(
        enum_column(HealthSubject, "health_subject", length=16)
    )
    state: Mapped[str] = mapped_column(String(24), default="SCORED")  # health.model.State
    score: Mapped[float | None] = mapped_column(Float)  # None: insufficient evidence
    low: Mapped[float | None] = mapped_column(Float)  # the 95 % interval
    high: Mapped[float | None] = mapped_column(Float)
    standard_error: Mapped[float | None] = mapped_column(Float)
    previous_score: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(Integer)
    previous_sample_size: Mapped[int] = mapped_column(Integer, default=0)
    confidence: Mapped[float | None] = mapped_column(Float)
    scored_parts: Mapped[int] = mapped_column(Integer, default=0)  # coverage of a parent
    parts: Mapped[int] = mapped_column(Integer, default=0)
    # Each an array of its fields in health.model.Component order (migration 0024).
    components: Mapped[list[list[Any]]] = mapped_column(JSONDocument, default=list)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthSnapshot(WorkspaceScoped, Base):
    """A subject's score on one day, for charts: the day's last calculation wins."""

    __tablename__ = "health_snapshots"
    __table_args__ = (UniqueConstraint("workspace_id", "subject_id", "day"),)

    subject_id: Mapped[UUID]
    subject_type: Mapped[HealthSubject] = mapped_column(
        enum_column(HealthSubject, "health_snapshot_subject", length=16)
    )
    day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(24), default="SCORED")
    score: Mapped[float | None] = mapped_column(Float)
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float | None] = mapped_column(Float)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthRequest(WorkspaceScoped, Base):
    """Something changed that health depends on; the next recalculation takes all of them.

    Bursts coalesce here: a hundred feedback batches leave a hundred rows, and
    the one recalculation that runs next reads the touchpoints they name.
    ``touchpoint_id`` is empty when only the structure changed.
    """

    __tablename__ = "health_requests"

    touchpoint_id: Mapped[UUID | None]
    reason: Mapped[str] = mapped_column(String(80))
    # Feedback that happened before today arrived (an import of the past): the history
    # of these days is recomputed (``backfill_to`` empty: as far as the item can reach).
    backfill_from: Mapped[date | None] = mapped_column(Date)
    backfill_to: Mapped[date | None] = mapped_column(Date)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertKind(StrEnum):
    FELL_BELOW = "FELL_BELOW"  # the score crossed the threshold going down
    RECOVERED = "RECOVERED"  # and back up


class HealthGeneration(WorkspaceScoped, Base):
    """Counts a workspace's health passes (``id`` is the workspace's).

    Every pass rewrites the workspace's scores, so anything derived from them (a
    cached map read) is current exactly while this number is unchanged.
    """

    __tablename__ = "health_generations"

    generation: Mapped[int] = mapped_column(Integer, default=0)


class HealthSettings(WorkspaceScoped, Base):
    """A workspace's thresholds (``id`` is the workspace's); defaults apply without a row."""

    __tablename__ = "health_settings"

    alert_below: Mapped[float | None] = mapped_column(Float)
    stale_after_days: Mapped[int] = mapped_column(Integer)
    sharp_drop_points: Mapped[float] = mapped_column(Float)
    target_score: Mapped[float | None] = mapped_column(Float)  # what "good" is here
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HealthAlert(WorkspaceScoped, Base):
    """A touchpoint's, map's or the workspace's score crossed the workspace's threshold."""

    __tablename__ = "health_alerts"
    __table_args__ = (
        Index("ix_health_alerts_workspace_id_created_at", "workspace_id", "created_at"),
    )

    subject_type: Mapped[HealthSubject] = mapped_column(
        enum_column(HealthSubject, "health_alert_subject", length=16)
    )
    subject_id: Mapped[UUID]
    kind: Mapped[AlertKind] = mapped_column(enum_column(AlertKind, "health_alert_kind"))
    threshold: Mapped[float] = mapped_column(Float)
    score_before: Mapped[float | None] = mapped_column(Float)
    score_after: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MapReview(WorkspaceScoped, Base):
    """When a map was last looked over (``id`` is the map's): staleness counts from here.

    Kept beside the map rather than in it: a review changes nothing on the map, so
    it neither bumps its version nor writes a revision.
    """

    __tablename__ = "map_reviews"

    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[UUID | None]
    note: Mapped[str] = mapped_column(Text, default="")
