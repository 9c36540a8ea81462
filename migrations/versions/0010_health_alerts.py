"""Health alerts and staleness: per-workspace thresholds, crossings, map reviews.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:34:47.268186
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

TABLES = ("health_alerts", "health_settings", "map_reviews")


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_alerts",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "subject_type",
            sa.Enum(
                "TOUCHPOINT",
                "STAGE",
                "JOURNEY_MAP",
                "WORKSPACE",
                name="health_alert_subject",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "FELL_BELOW",
                "RECOVERED",
                name="health_alert_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("score_before", sa.Float(), nullable=True),
        sa.Column("score_after", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_alerts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_alerts")),
    )
    with op.batch_alter_table("health_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_health_alerts_workspace_id_created_at", ["workspace_id", "created_at"], unique=False
        )

    op.create_table(
        "health_settings",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_below", sa.Float(), nullable=True),
        sa.Column("stale_after_days", sa.Integer(), nullable=False),
        sa.Column("sharp_drop_points", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_settings")),
    )
    op.create_table(
        "map_reviews",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_map_reviews_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_map_reviews")),
    )
    if rls.is_postgres():
        for table in TABLES:
            rls.grant_to_app(table)
            rls.enable_workspace_rls(table)


def downgrade() -> None:
    if rls.is_postgres():
        for table in TABLES:
            rls.disable_workspace_rls(table)
    op.drop_table("map_reviews")
    op.drop_table("health_settings")
    with op.batch_alter_table("health_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_health_alerts_workspace_id_created_at")

    op.drop_table("health_alerts")
