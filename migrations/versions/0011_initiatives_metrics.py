"""Initiatives (RICE, status, links, outcome) and metrics with their values over time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:41:01.866665
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import JSONDocument, UTCDateTime
from migrations import rls

TABLES = ("initiatives", "metric_values", "metrics")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "initiatives",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "IDEA",
                "PLANNED",
                "IN_PROGRESS",
                "SHIPPED",
                "DONE",
                "CANCELLED",
                name="initiative_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("department", sa.String(length=120), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("effort", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("reach", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("touchpoint_ids", JSONDocument, nullable=False),
        sa.Column("pain_point_ids", JSONDocument, nullable=False),
        sa.Column("target_metric_id", sa.Uuid(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("shipped_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "confidence BETWEEN 0 AND 1", name=op.f("ck_initiatives_confidence_range")
        ),
        sa.CheckConstraint("effort BETWEEN 1 AND 5", name=op.f("ck_initiatives_effort_range")),
        sa.CheckConstraint("impact BETWEEN 1 AND 5", name=op.f("ck_initiatives_impact_range")),
        sa.CheckConstraint("reach >= 0", name=op.f("ck_initiatives_reach_positive")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_initiatives_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_initiatives")),
    )
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.create_index(
            "ix_initiatives_workspace_id_priority", ["workspace_id", "priority"], unique=False
        )

    op.create_table(
        "metric_values",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("metric_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("observed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "MANUAL",
                "IMPORT",
                "INGESTION",
                name="metric_source",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_metric_values_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_metric_values")),
        sa.UniqueConstraint(
            "workspace_id",
            "metric_id",
            "observed_at",
            name=op.f("uq_metric_values_workspace_id_metric_id_observed_at"),
        ),
    )
    op.create_table(
        "metrics",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "HIGHER_IS_BETTER",
                "LOWER_IS_BETTER",
                name="metric_direction",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("journey_map_id", sa.Uuid(), nullable=True),
        sa.Column("stage_id", sa.Uuid(), nullable=True),
        sa.Column("touchpoint_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_metrics_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_metrics")),
    )
    if rls.is_postgres():
        for table in TABLES:
            rls.grant_to_app(table)
            rls.enable_workspace_rls(table)


def downgrade() -> None:
    if rls.is_postgres():
        for table in TABLES:
            rls.disable_workspace_rls(table)
    op.drop_table("metrics")
    op.drop_table("metric_values")
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.drop_index("ix_initiatives_workspace_id_priority")

    op.drop_table("initiatives")
