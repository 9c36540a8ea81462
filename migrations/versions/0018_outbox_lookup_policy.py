"""The outbox relay's lookup of due workspaces sees the due events under FORCE RLS.

``waypost_outbox_due_workspaces`` is SECURITY DEFINER: it runs as its owner, the
tables' owner, so that the application role (which sees no workspace before one is
bound) learns which workspaces have due events without reading any. FORCE ROW LEVEL
SECURITY applies to the owner too, and with no workspace bound the lookup found
nothing: no event was ever dispatched unless the migrations had run as a superuser.
A SELECT policy for that owner alone lets the function read; the application role is
not the owner nor a member of it, so it gains nothing. Postgres only.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

from alembic import op

from migrations import rls

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "owner_due_lookup"


def upgrade() -> None:
    if not rls.is_postgres():
        return
    # To the role the function runs as (whoever ran the migration that made it).
    op.execute(
        f"""
        DO $$ BEGIN
          EXECUTE format(
            'CREATE POLICY {POLICY} ON outbox_events FOR SELECT TO %I USING (true)',
            (SELECT pg_get_userbyid(proowner) FROM pg_proc
             WHERE oid = 'waypost_outbox_due_workspaces(timestamptz)'::regprocedure));
        END $$
        """
    )


def downgrade() -> None:
    if not rls.is_postgres():
        return
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON outbox_events")
