"""Health evidence as one row per subject, its metrics side by side.

``health_evidence`` held one row per (subject, metric): some 8,000 rows for a workspace
of 2,000 touchpoints, each rewritten and read back by every full pass. Now a subject's
row carries every metric's sums in columns of their own (``csat_n``, ``csat_total``,
``csat_total_sq``, ``csat_previous_n``, …), a quarter of the rows. The rows are carried
over, not dropped: until the next full pass, an incremental pass scores the workspace
from them, and empty evidence would read as "no answers anywhere".

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


def _create(*columns: sa.Column, key: Sequence[str]) -> sa.Table:  # type: ignore[type-arg]
    table = op.create_table(
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
    assert table is not None
    if rls.is_postgres():
        rls.grant_to_app("health_evidence")
        rls.enable_workspace_rls("health_evidence")
        # Every full pass rewrites every row: room on the page keeps the updates HOT.
        op.execute("ALTER TABLE health_evidence SET (fillfactor = 50)")
    return table


def _existing(*columns: sa.ColumnClause[Any]) -> list[dict[str, Any]]:
    """Every row, every workspace's, read through typed columns (datetimes and ids come
    back as such on SQLite too)."""
    table = sa.table(
        "health_evidence",
        sa.column("workspace_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column("level", sa.String()),
        sa.column("as_of", UTCDateTime()),
        *columns,
    )
    with rls.across_workspaces("health_evidence"):
        return [dict(r._mapping) for r in op.get_bind().execute(sa.select(table))]


def _insert(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        with rls.across_workspaces("health_evidence"):
            op.bulk_insert(table, rows)


def upgrade() -> None:
    by_subject: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in _existing(sa.column("metric", sa.String()), *(sa.column(s, _kind(s)) for s in SUMS)):
        wide = by_subject.setdefault(
            (row["workspace_id"], row["id"]),
            {
                "workspace_id": row["workspace_id"],
                "id": row["id"],
                "level": row["level"],
                "as_of": row["as_of"],
                **dict.fromkeys((f"{m.lower()}_{s}" for m in METRICS for s in SUMS), 0),
            },
        )
        wide["as_of"] = max(wide["as_of"], row["as_of"])
        for name in SUMS:
            wide[f"{row['metric'].lower()}_{name}"] = row[name]
    op.drop_table("health_evidence")
    table = _create(
        _level(),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        *(sa.Column(f"{m.lower()}_{s}", _kind(s), nullable=False) for m in METRICS for s in SUMS),
        key=("workspace_id", "id"),
    )
    _insert(table, list(by_subject.values()))


def downgrade() -> None:
    long = []
    for row in _existing(*(sa.column(f"{m.lower()}_{s}", _kind(s)) for m in METRICS for s in SUMS)):
        for metric in METRICS:
            sums = {s: row[f"{metric.lower()}_{s}"] for s in SUMS}
            if sums["n"] or sums["previous_n"]:
                long.append(
                    {
                        "workspace_id": row["workspace_id"],
                        "id": row["id"],
                        "metric": metric,
                        "level": row["level"],
                        "as_of": row["as_of"],
                        **sums,
                    }
                )
    op.drop_table("health_evidence")
    table = _create(
        sa.Column("metric", sa.String(length=16), nullable=False),
        _level(),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        *(sa.Column(s, _kind(s), nullable=False) for s in SUMS),
        key=("workspace_id", "id", "metric"),
    )
    _insert(table, long)
