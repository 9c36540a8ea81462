"""Feedback: one row per thing a customer said, isolated by workspace row-level security.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:58:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import JSONDocument, UTCDateTime
from migrations import rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str, length: int = 16) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "source",
            _enum(
                "feedback_source",
                "SURVEY",
                "INTERVIEW",
                "SUPPORT_TICKET",
                "REVIEW",
                "SOCIAL",
                "ANALYTICS",
                "OTHER",
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column(
            "channel",
            _enum(
                "feedback_channel",
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
            ),
            nullable=True,
        ),
        sa.Column("journey_map_id", sa.Uuid(), nullable=True),
        sa.Column("stage_id", sa.Uuid(), nullable=True),
        sa.Column("touchpoint_id", sa.Uuid(), nullable=True),
        sa.Column("persona_id", sa.Uuid(), nullable=True),
        sa.Column("measure", _enum("measure_kind", "CSAT", "NPS", "CES", "RATING"), nullable=True),
        sa.Column("measure_value", sa.SmallInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.Double(), nullable=True),
        sa.Column("tags", JSONDocument, nullable=False),
        sa.Column("customer_ref", sa.String(length=200), nullable=True),
        sa.Column("event_name", sa.String(length=500), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("survey_id", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "sentiment BETWEEN -1 AND 1", name=op.f("ck_feedback_feedback_sentiment_range")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_feedback")),
        sa.UniqueConstraint(
            "workspace_id",
            "source",
            "external_id",
            name=op.f("uq_feedback_workspace_id_source_external_id"),
        ),
    )
    op.create_index(
        "ix_feedback_workspace_id_received_at", "feedback", ["workspace_id", "received_at"]
    )
    op.create_index(
        "ix_feedback_workspace_id_touchpoint_id", "feedback", ["workspace_id", "touchpoint_id"]
    )
    if rls.is_postgres():
        rls.grant_to_app("feedback")
        rls.enable_workspace_rls("feedback")


def downgrade() -> None:
    if rls.is_postgres():
        rls.disable_workspace_rls("feedback")
    op.drop_table("feedback")
