"""A backfill request names the last day it can change: ``health_requests.backfill_to``.

An item that happened on day d moves the scores of days d to d + two windows only, so a
request is an interval, not "from d up to yesterday". Requests written before this
revision have none; a backfill reads theirs as their start plus that reach.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("health_requests") as batch:
        batch.add_column(sa.Column("backfill_to", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("health_requests") as batch:
        batch.drop_column("backfill_to")
