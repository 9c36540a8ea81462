"""Ingestion tokens: a workspace's key for sending feedback over HTTP (hash kept only).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingestion_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ingest_workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_ingestion_tokens_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ingest_workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ingestion_tokens_ingest_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_ingestion_tokens_secret_hash")),
    )
    op.create_index(
        op.f("ix_ingestion_tokens_ingest_workspace_id"), "ingestion_tokens", ["ingest_workspace_id"]
    )
    if rls.is_postgres():
        rls.grant_to_app("ingestion_tokens")


def downgrade() -> None:
    op.drop_table("ingestion_tokens")
