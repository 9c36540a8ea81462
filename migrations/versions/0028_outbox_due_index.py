"""The relay's lookup of due workspaces reads the due events only, not every one in flight.

The relay asks, at every commit and every second on each API process, which workspaces
have events to send: pending (neither processed nor dead-lettered) and never dispatched,
or dispatched before the redelivery window. The lookup used ix_outbox_events_pending,
whose only condition is "not processed", and read every pending event to check when it
was dispatched: with 8,256 events in flight (no worker taking them) that was 18 ms and
6,800 pages a poll, growing with the backlog. A partial index on the dispatch time of
pending events, and the two conditions asked apart (an OR with a parameter is planned as
a filter), make it read only what is due.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import rls

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "processed_at IS NULL AND dead_lettered_at IS NULL"

_DUE_WORKSPACES = f"""
    CREATE OR REPLACE FUNCTION waypost_outbox_due_workspaces(redeliver_before timestamptz)
    RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT workspace_id FROM outbox_events WHERE {_PENDING} AND dispatched_at IS NULL
      UNION
      SELECT workspace_id FROM outbox_events
      WHERE {_PENDING} AND dispatched_at < redeliver_before
    $$
"""

# As 0004 left it.
_DUE_WORKSPACES_BEFORE = """
    CREATE OR REPLACE FUNCTION waypost_outbox_due_workspaces(redeliver_before timestamptz)
    RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT DISTINCT workspace_id FROM outbox_events
      WHERE processed_at IS NULL AND dead_lettered_at IS NULL
        AND (dispatched_at IS NULL OR dispatched_at < redeliver_before)
    $$
"""


def upgrade() -> None:
    op.create_index(
        "ix_outbox_events_due",
        "outbox_events",
        ["dispatched_at"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    if rls.is_postgres():
        op.execute(_DUE_WORKSPACES)


def downgrade() -> None:
    if rls.is_postgres():
        op.execute(_DUE_WORKSPACES_BEFORE)
    op.drop_index("ix_outbox_events_due", table_name="outbox_events")
