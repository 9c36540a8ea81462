"""Room on health score and evidence pages for updates in place.

A health pass updates every score of its workspace (backend/health/recalculate.py)
and the evidence of every touchpoint it refreshes (backend/health/evidence.py).
An update finds room on the row's own page only if the page was left part empty;
then it adds no index entries (a heap-only tuple). At the default fill of 100 %
almost none did; at 50 % all do. Both tables are small: a row per scored subject,
a row per touchpoint. Postgres only: SQLite has no fill factor.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("health_scores", "health_evidence")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
