"""Periods of periodic jobs are claimed in the database, whatever the broker.

``schedule_claims`` holds one row per period a process claimed for a job (housekeeping,
the nightly full health pass): the first insert of ``(job, period)`` wins and runs it,
the others find it taken. It replaces claims kept in the broker's Redis, which RabbitMQ
deployments did not have. A global table: it names jobs, periods and processes, no
tenant's data, so it has no workspace and no row-level security. The application may
read, insert (claim) and delete (give a failed period back, prune old claims); it never
rewrites a claim.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_claims",
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", "period", name=op.f("pk_schedule_claims")),
    )
    if rls.is_postgres():
        rls.grant_to_app("schedule_claims", "SELECT, INSERT, DELETE")


def downgrade() -> None:
    op.drop_table("schedule_claims")
