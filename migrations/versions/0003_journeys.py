"""Journey mapping: personas, maps, stages, touchpoints, emotions, pain points,
opportunities and revisions, each isolated by workspace row-level security.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:54:13.437438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import JSONDocument, UTCDateTime
from migrations import rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = [
    "personas",
    "journey_maps",
    "journey_map_personas",
    "stages",
    "touchpoints",
    "touchpoint_emotions",
    "pain_points",
    "opportunities",
    "journey_map_revisions",
]


def upgrade() -> None:
    op.create_table(
        "journey_maps",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("objectives", JSONDocument, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "ACTIVE",
                "ARCHIVED",
                name="map_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "scenario",
            sa.Enum(
                "CURRENT_STATE",
                "FUTURE_STATE",
                name="map_scenario",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("departments", JSONDocument, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_journey_maps_version_positive")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_journey_maps_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_journey_maps")),
    )
    op.create_index(
        "ix_journey_maps_workspace_id_updated_at",
        "journey_maps",
        ["workspace_id", "updated_at"],
        unique=False,
    )
    op.create_table(
        "personas",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("age_min", sa.SmallInteger(), nullable=True),
        sa.Column("age_max", sa.SmallInteger(), nullable=True),
        sa.Column("occupation", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("goals", JSONDocument, nullable=False),
        sa.Column("frustrations", JSONDocument, nullable=False),
        sa.Column("behaviors", JSONDocument, nullable=False),
        sa.Column("preferred_channels", JSONDocument, nullable=False),
        sa.Column("segment_share", sa.Float(), nullable=True),
        sa.Column("avatar_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("age_min <= age_max", name=op.f("ck_personas_age_range_order")),
        sa.CheckConstraint(
            "segment_share BETWEEN 0 AND 1", name=op.f("ck_personas_segment_share_range")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_personas_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_personas")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_personas_workspace_id_name")),
    )
    op.create_table(
        "journey_map_personas",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_map_id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_map_id"],
            ["journey_maps.workspace_id", "journey_maps.id"],
            name=op.f("fk_journey_map_personas_workspace_id_journey_map_id_journey_maps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "persona_id"],
            ["personas.workspace_id", "personas.id"],
            name=op.f("fk_journey_map_personas_workspace_id_persona_id_personas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_journey_map_personas_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_journey_map_personas")),
        sa.UniqueConstraint(
            "workspace_id",
            "journey_map_id",
            "persona_id",
            name=op.f("uq_journey_map_personas_workspace_id_journey_map_id_persona_id"),
        ),
    )
    op.create_index(
        op.f("ix_journey_map_personas_persona_id"),
        "journey_map_personas",
        ["persona_id"],
        unique=False,
    )
    op.create_table(
        "journey_map_revisions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_map_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("snapshot", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_map_id"],
            ["journey_maps.workspace_id", "journey_maps.id"],
            name=op.f("fk_journey_map_revisions_workspace_id_journey_map_id_journey_maps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_journey_map_revisions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_journey_map_revisions")),
        sa.UniqueConstraint(
            "workspace_id",
            "journey_map_id",
            "version",
            name=op.f("uq_journey_map_revisions_workspace_id_journey_map_id_version"),
        ),
    )
    op.create_table(
        "stages",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_map_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("customer_goals", JSONDocument, nullable=False),
        sa.Column("questions", JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_map_id"],
            ["journey_maps.workspace_id", "journey_maps.id"],
            name=op.f("fk_stages_workspace_id_journey_map_id_journey_maps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_stages_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_stages")),
        sa.UniqueConstraint(
            "workspace_id",
            "journey_map_id",
            "position",
            name=op.f("uq_stages_workspace_id_journey_map_id_position"),
        ),
    )
    op.create_table(
        "touchpoints",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_map_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "WEB",
                "MOBILE_APP",
                "SOCIAL",
                "EMAIL",
                "PHONE",
                "SMS",
                "CHAT",
                "IN_APP",
                "IN_STORE",
                "EVENT",
                "MAIL",
                name="touchpoint_channel",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column(
            "device",
            sa.Enum(
                "SMARTPHONE",
                "DESKTOP",
                "TABLET",
                "TV",
                "KIOSK",
                name="touchpoint_device",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("customer_actions", JSONDocument, nullable=False),
        sa.Column("customer_goals", JSONDocument, nullable=False),
        sa.Column("questions", JSONDocument, nullable=False),
        sa.Column("emotion", sa.SmallInteger(), nullable=True),
        sa.Column("moment_of_truth", sa.Boolean(), nullable=False),
        sa.Column("owning_department", sa.String(length=120), nullable=False),
        sa.Column("match_keys", JSONDocument, nullable=False),
        sa.CheckConstraint("emotion BETWEEN -2 AND 2", name=op.f("ck_touchpoints_emotion_range")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_map_id"],
            ["journey_maps.workspace_id", "journey_maps.id"],
            name=op.f("fk_touchpoints_workspace_id_journey_map_id_journey_maps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "stage_id"],
            ["stages.workspace_id", "stages.id"],
            name=op.f("fk_touchpoints_workspace_id_stage_id_stages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_touchpoints_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_touchpoints")),
        sa.UniqueConstraint(
            "workspace_id",
            "stage_id",
            "position",
            name=op.f("uq_touchpoints_workspace_id_stage_id_position"),
        ),
    )
    op.create_index(
        "ix_touchpoints_workspace_id_journey_map_id",
        "touchpoints",
        ["workspace_id", "journey_map_id"],
        unique=False,
    )
    op.create_table(
        "pain_points",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("touchpoint_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "LOW",
                "MEDIUM",
                "HIGH",
                "CRITICAL",
                name="pain_point_severity",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "RESOLVED",
                name="pain_point_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "touchpoint_id"],
            ["touchpoints.workspace_id", "touchpoints.id"],
            name=op.f("fk_pain_points_workspace_id_touchpoint_id_touchpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_pain_points_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_pain_points")),
    )
    op.create_index(
        "ix_pain_points_workspace_id_touchpoint_id",
        "pain_points",
        ["workspace_id", "touchpoint_id"],
        unique=False,
    )
    op.create_table(
        "touchpoint_emotions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("touchpoint_id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=False),
        sa.Column("current", sa.SmallInteger(), nullable=True),
        sa.Column("target", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint(
            "current BETWEEN -2 AND 2", name=op.f("ck_touchpoint_emotions_current_range")
        ),
        sa.CheckConstraint(
            "target BETWEEN -2 AND 2", name=op.f("ck_touchpoint_emotions_target_range")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "persona_id"],
            ["personas.workspace_id", "personas.id"],
            name=op.f("fk_touchpoint_emotions_workspace_id_persona_id_personas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "touchpoint_id"],
            ["touchpoints.workspace_id", "touchpoints.id"],
            name=op.f("fk_touchpoint_emotions_workspace_id_touchpoint_id_touchpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_touchpoint_emotions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_touchpoint_emotions")),
        sa.UniqueConstraint(
            "workspace_id",
            "touchpoint_id",
            "persona_id",
            name=op.f("uq_touchpoint_emotions_workspace_id_touchpoint_id_persona_id"),
        ),
    )
    op.create_table(
        "opportunities",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("touchpoint_id", sa.Uuid(), nullable=False),
        sa.Column("pain_point_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "PLANNED",
                "DONE",
                "DISCARDED",
                name="opportunity_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "pain_point_id"],
            ["pain_points.workspace_id", "pain_points.id"],
            name=op.f("fk_opportunities_workspace_id_pain_point_id_pain_points"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "touchpoint_id"],
            ["touchpoints.workspace_id", "touchpoints.id"],
            name=op.f("fk_opportunities_workspace_id_touchpoint_id_touchpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_opportunities_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_opportunities")),
    )
    op.create_index(
        "ix_opportunities_workspace_id_touchpoint_id",
        "opportunities",
        ["workspace_id", "touchpoint_id"],
        unique=False,
    )

    if rls.is_postgres():
        for table in TABLES:
            rls.grant_to_app(table)
            rls.enable_workspace_rls(table)


def downgrade() -> None:
    if rls.is_postgres():
        for table in TABLES:
            rls.disable_workspace_rls(table)
    for table in reversed(TABLES):
        op.drop_table(table)
