"""Row-level security reads the bound workspaces once per statement, not once per row.

Each workspace table's policy was ``workspace_id = ANY (waypost_bound_workspaces())``.
Postgres inlines that function, so a scan that filters rows (rather than probing an
index) re-parsed the bound setting, 50 uuids for an agency's token, for every row:
14 ms to read a medium world's 1,000 maps. As a sub-select the array is computed once
(an InitPlan) and still serves as an index condition. Same rows, same rule.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from migrations.rls import WORKSPACE_RULE, is_postgres

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PER_ROW = "workspace_id = ANY (waypost_bound_workspaces())"


def _tables() -> list[str]:
    found = op.get_bind().execute(
        text(
            "SELECT tablename FROM pg_policies WHERE schemaname = current_schema()"
            " AND policyname = 'workspace_isolation' ORDER BY tablename"
        )
    )
    return [row[0] for row in found]


def _set(rule: str) -> None:
    for table in _tables():
        op.execute(
            f"ALTER POLICY workspace_isolation ON {table} USING ({rule}) WITH CHECK ({rule})"
        )


def upgrade() -> None:
    if is_postgres():
        _set(WORKSPACE_RULE)


def downgrade() -> None:
    if is_postgres():
        _set(_PER_ROW)
