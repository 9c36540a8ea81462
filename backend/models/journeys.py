"""Journey mapping tables: personas, maps, stages, touchpoints, pain points, revisions.

Every table is workspace-scoped and every reference between them is a
composite foreign key that includes ``workspace_id``: a stage cannot point at
a map of another workspace, even by mistake. Reads go through repositories and
DataLoaders, so no ORM relationships are declared between these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped, WorkspaceScoped
from backend.db.types import JSONDocument, enum_column
from backend.vocabulary.journeys import (
    Channel,
    Device,
    MapStatus,
    OpportunityStatus,
    PainPointStatus,
    Scenario,
    Severity,
)


def _parent(column: str, table: str, *, ondelete: str = "CASCADE") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["workspace_id", column], [f"{table}.workspace_id", f"{table}.id"], ondelete=ondelete
    )


def _emotion(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} BETWEEN -2 AND 2", name=f"{column}_range")


class Persona(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "personas"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        CheckConstraint("segment_share BETWEEN 0 AND 1", name="segment_share_range"),
        CheckConstraint("age_min <= age_max", name="age_range_order"),
    )

    name: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text, default="")
    quote: Mapped[str] = mapped_column(Text, default="")
    age_min: Mapped[int | None] = mapped_column(SmallInteger)
    age_max: Mapped[int | None] = mapped_column(SmallInteger)
    occupation: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    goals: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    frustrations: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    behaviors: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    preferred_channels: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    segment_share: Mapped[float | None] = mapped_column(Float)
    avatar_url: Mapped[str | None] = mapped_column(String(2000))


class JourneyMap(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "journey_maps"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_journey_maps_workspace_id_updated_at", "workspace_id", "updated_at"),
        # Lookups by id lists, whatever the caller's number of workspaces (as below).
        Index("ix_journey_maps_id", "id"),
    )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    objectives: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    status: Mapped[MapStatus] = mapped_column(
        enum_column(MapStatus, "map_status"), default=MapStatus.DRAFT
    )
    scenario: Mapped[Scenario] = mapped_column(
        enum_column(Scenario, "map_scenario", length=24), default=Scenario.CURRENT_STATE
    )
    departments: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # Increments on every change to the map or anything inside it (optimistic locking).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[UUID | None]
    updated_by: Mapped[UUID | None]
    # Soft delete: restorable by a workspace admin until purged.
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[UUID | None]


class JourneyMapPersona(WorkspaceScoped, Base):
    __tablename__ = "journey_map_personas"
    __table_args__ = (
        UniqueConstraint("workspace_id", "journey_map_id", "persona_id"),
        _parent("journey_map_id", "journey_maps"),
        _parent("persona_id", "personas"),
    )

    journey_map_id: Mapped[UUID]
    persona_id: Mapped[UUID] = mapped_column(index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Stage(WorkspaceScoped, Base):
    __tablename__ = "stages"
    __table_args__ = (
        # Dense and unique within a map; moves renumber in two steps (see repository).
        UniqueConstraint("workspace_id", "journey_map_id", "position"),
        _parent("journey_map_id", "journey_maps"),
        Index("ix_stages_id", "id"),
    )

    journey_map_id: Mapped[UUID]
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    customer_goals: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    questions: Mapped[list[str]] = mapped_column(JSONDocument, default=list)


class Touchpoint(WorkspaceScoped, Base):
    __tablename__ = "touchpoints"
    __table_args__ = (
        UniqueConstraint("workspace_id", "stage_id", "position"),
        _parent("stage_id", "stages"),
        _parent("journey_map_id", "journey_maps"),
        _emotion("emotion"),
        Index("ix_touchpoints_workspace_id_journey_map_id", "workspace_id", "journey_map_id"),
        Index("ix_touchpoints_id", "id"),
    )

    # The map is denormalised from the stage: loading a whole map is one query.
    journey_map_id: Mapped[UUID]
    stage_id: Mapped[UUID]
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel, "touchpoint_channel"))
    device: Mapped[Device | None] = mapped_column(enum_column(Device, "touchpoint_device"))
    customer_actions: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    customer_goals: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    questions: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    emotion: Mapped[int | None] = mapped_column(SmallInteger)
    moment_of_truth: Mapped[bool] = mapped_column(default=False)
    # Customers passing through in a typical month, as the team declares it: how much
    # the touchpoint weighs in its stage (docs/health-score.md). None: not declared.
    traffic: Mapped[int | None] = mapped_column(Integer)
    owning_department: Mapped[str] = mapped_column(String(120), default="")
    # {"event_names": [...], "url_patterns": [...], "survey_ids": [...]}
    match_keys: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class TouchpointEmotion(WorkspaceScoped, Base):
    """How one persona feels at a touchpoint: now, and where we want them to be."""

    __tablename__ = "touchpoint_emotions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "touchpoint_id", "persona_id"),
        _parent("touchpoint_id", "touchpoints"),
        _parent("persona_id", "personas"),
        _emotion("current"),
        _emotion("target"),
    )

    touchpoint_id: Mapped[UUID]
    persona_id: Mapped[UUID]
    current: Mapped[int | None] = mapped_column(SmallInteger)
    target: Mapped[int | None] = mapped_column(SmallInteger)


class PainPoint(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "pain_points"
    __table_args__ = (
        _parent("touchpoint_id", "touchpoints"),
        Index("ix_pain_points_workspace_id_touchpoint_id", "workspace_id", "touchpoint_id"),
        # A map's pain points by touchpoint, whatever the caller's number of workspaces.
        Index("ix_pain_points_touchpoint_id", "touchpoint_id"),
        Index("ix_pain_points_id", "id"),
    )

    touchpoint_id: Mapped[UUID]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "pain_point_severity"))
    status: Mapped[PainPointStatus] = mapped_column(
        enum_column(PainPointStatus, "pain_point_status"), default=PainPointStatus.OPEN
    )


class Opportunity(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        _parent("touchpoint_id", "touchpoints"),
        # Born from a pain point, maybe; the pain point may go, the idea stays.
        ForeignKeyConstraint(
            ["workspace_id", "pain_point_id"],
            ["pain_points.workspace_id", "pain_points.id"],
        ),
        Index("ix_opportunities_workspace_id_touchpoint_id", "workspace_id", "touchpoint_id"),
        Index("ix_opportunities_touchpoint_id", "touchpoint_id"),
        Index("ix_opportunities_id", "id"),
    )

    touchpoint_id: Mapped[UUID]
    pain_point_id: Mapped[UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[OpportunityStatus] = mapped_column(
        enum_column(OpportunityStatus, "opportunity_status"), default=OpportunityStatus.OPEN
    )


class JourneyMapRevision(WorkspaceScoped, Base):
    """The whole map as it was at one version: diffable, restorable."""

    __tablename__ = "journey_map_revisions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "journey_map_id", "version"),
        _parent("journey_map_id", "journey_maps"),
    )

    journey_map_id: Mapped[UUID]
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(80))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime]
    created_by: Mapped[UUID | None]
