"""Health evidence as one row per subject, its metrics side by side.

``health_evidence`` held one row per (subject, metric): some 8,000 rows for a workspace
of 2,000 touchpoints, each rewritten and read back by every full pass. Now a subject's
row carries every metric's sums in columns of their own (``csat_n``, ``csat_total``,
``csat_total_sq``, ``csat_previous_n``, …), a quarter of the rows. The rows are carried
over, not dropped (by ``INSERT … SELECT``, in the database): until the next full pass,
an incremental pass scores the workspace from them, and empty evidence would read as
"no answers anywhere".

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-13 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("TOUCHPOINT", "STAGE", "JOURNEY_MAP", "WORKSPACE")
METRICS = ("CSAT", "NPS", "CES", "RATING", "SENTIMENT")
SUMS = ("n", "total", "total_sq", "previous_n", "previous_total", "previous_total_sq")


def _kind(name: str) -> sa.types.TypeEngine[Any]:
    return sa.Integer() if name in ("n", "previous_n") else sa.Float()


def _level() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "level",
        sa.Enum(
            *LEVELS,
            name="health_evidence_level",
            native_enum=False,
            create_constraint=True,
            length=16,
        ),
        nullable=False,
    )


def _create(*columns: sa.Column, key: Sequence[str]) -> None:  # type: ignore[type-arg]
    op.create_table(
        "health_evidence",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_evidence_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_health_evidence")),
    )
    if rls.is_postgres():
        rls.grant_to_app("health_evidence")
        rls.enable_workspace_rls("health_evidence")
        # Every full pass rewrites every row: room on the page keeps the updates HOT.
        op.execute("ALTER TABLE health_evidence SET (fillfactor = 50)")


# The table's named constraints; on Postgres the new table's would clash with them.
CONSTRAINTS = (
    "pk_health_evidence",
    "fk_health_evidence_workspace_id_workspaces",
    "ck_health_evidence_health_evidence_level",
)


def _set_aside() -> None:
    """The old table under another name, its constraints renamed with it."""
    if rls.is_postgres():
        for name in CONSTRAINTS:
            op.execute(f"ALTER TABLE health_evidence RENAME CONSTRAINT {name} TO {name}_old")
    op.rename_table("health_evidence", "health_evidence_old")


def _copy(columns: Sequence[str], select: str) -> None:
    """``INSERT INTO health_evidence (columns) <select>`` over every workspace's rows, in
    the database: an installation's evidence never passes through Python."""
    with rls.across_workspaces("health_evidence"), rls.across_workspaces("health_evidence_old"):
        op.execute(f"INSERT INTO health_evidence ({', '.join(columns)}) {select}")
    op.drop_table("health_evidence_old")


def upgrade() -> None:
    _set_aside()
    _create(
        _level(),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        *(sa.Column(f"{m.lower()}_{s}", _kind(s), nullable=False) for m in METRICS for s in SUMS),
        key=("workspace_id", "id"),
    )
    wide = [f"{m.lower()}_{s}" for m in METRICS for s in SUMS]
    pivot = ", ".join(
        f"coalesce(sum(CASE WHEN metric = '{m}' THEN {s} END), 0)" for m in METRICS for s in SUMS
    )
    _copy(
        ["workspace_id", "id", "level", "as_of", *wide],
        f"SELECT workspace_id, id, min(level), max(as_of), {pivot}"
        " FROM health_evidence_old GROUP BY workspace_id, id",
    )


def downgrade() -> None:
    _set_aside()
    _create(
        sa.Column("metric", sa.String(length=16), nullable=False),
        _level(),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        *(sa.Column(s, _kind(s), nullable=False) for s in SUMS),
        key=("workspace_id", "id", "metric"),
    )
    # A metric without answers in either window had no row.
    per_metric = " UNION ALL ".join(
        f"SELECT workspace_id, id, '{m}', level, as_of, "
        + ", ".join(f"{m.lower()}_{s}" for s in SUMS)
        + f" FROM health_evidence_old WHERE {m.lower()}_n > 0 OR {m.lower()}_previous_n > 0"
        for m in METRICS
    )
    _copy(["workspace_id", "id", "metric", "level", "as_of", *SUMS], per_metric)
