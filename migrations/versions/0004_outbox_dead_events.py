"""Outbox events whose retries ran out are marked, so the relay stops sending them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DUE_WORKSPACES = """
    CREATE OR REPLACE FUNCTION waypost_outbox_due_workspaces(redeliver_before timestamptz)
    RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT DISTINCT workspace_id FROM outbox_events
      WHERE processed_at IS NULL {dead_letters}
        AND (dispatched_at IS NULL OR dispatched_at < redeliver_before)
    $$
"""


def upgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("dead_lettered_at", UTCDateTime(timezone=True), nullable=True))
    if rls.is_postgres():
        op.execute(_DUE_WORKSPACES.format(dead_letters="AND dead_lettered_at IS NULL"))


def downgrade() -> None:
    if rls.is_postgres():
        op.execute(_DUE_WORKSPACES.format(dead_letters=""))
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("dead_lettered_at")
