"""Health: touchpoint evidence, current scores, daily snapshots, pending recalculations.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:16:22.981134
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import JSONDocument, UTCDateTime
from migrations import rls

TABLES = ("health_evidence", "health_requests", "health_scores", "health_snapshots")
revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_evidence",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        sa.Column("satisfaction_weight", sa.Float(), nullable=False),
        sa.Column("satisfaction_total", sa.Float(), nullable=False),
        sa.Column("satisfaction_count", sa.Integer(), nullable=False),
        sa.Column("sentiment_weight", sa.Float(), nullable=False),
        sa.Column("sentiment_total", sa.Float(), nullable=False),
        sa.Column("sentiment_count", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("previous_satisfaction_weight", sa.Float(), nullable=False),
        sa.Column("previous_satisfaction_total", sa.Float(), nullable=False),
        sa.Column("previous_satisfaction_count", sa.Integer(), nullable=False),
        sa.Column("previous_sentiment_weight", sa.Float(), nullable=False),
        sa.Column("previous_sentiment_total", sa.Float(), nullable=False),
        sa.Column("previous_sentiment_count", sa.Integer(), nullable=False),
        sa.Column("previous_items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_evidence_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_evidence")),
    )
    op.create_table(
        "health_requests",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("touchpoint_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_requests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_requests")),
    )
    op.create_table(
        "health_scores",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "subject_type",
            sa.Enum(
                "TOUCHPOINT",
                "STAGE",
                "JOURNEY_MAP",
                "WORKSPACE",
                name="health_subject",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("previous_score", sa.Float(), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("previous_sample_size", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("components", JSONDocument, nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_scores_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_scores")),
    )
    op.create_table(
        "health_snapshots",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "subject_type",
            sa.Enum(
                "TOUCHPOINT",
                "STAGE",
                "JOURNEY_MAP",
                "WORKSPACE",
                name="health_snapshot_subject",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("taken_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_snapshots_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_snapshots")),
        sa.UniqueConstraint(
            "workspace_id",
            "subject_id",
            "day",
            name=op.f("uq_health_snapshots_workspace_id_subject_id_day"),
        ),
    )
    if rls.is_postgres():
        for table in TABLES:
            rls.grant_to_app(table)
            rls.enable_workspace_rls(table)


def downgrade() -> None:
    if rls.is_postgres():
        for table in TABLES:
            rls.disable_workspace_rls(table)
    op.drop_table("health_snapshots")
    op.drop_table("health_scores")
    op.drop_table("health_requests")
    op.drop_table("health_evidence")
