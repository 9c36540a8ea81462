"""The evidence-first health index: evidence per subject and metric, scores that may be absent.

``health_evidence`` is rebuilt in its new shape: one row per (subject, metric) with the
item indexes' count, sum and sum of squares for the current and the previous window
(subjects are touchpoints, and stages or maps for feedback placed on them alone). The
table holds derived data only: the first full pass after the upgrade refills it (the
scheduler runs one at start-up), so the old rows are dropped, not converted.

``health_scores`` and ``health_snapshots`` gain a ``state`` (SCORED or
INSUFFICIENT_EVIDENCE) and the 95 % interval (``low``, ``high``); ``score`` and
``confidence`` become nullable, since a subject without enough evidence has none.
Scores also keep their standard error and, for a parent, how many of its parts are
scored.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("TOUCHPOINT", "STAGE", "JOURNEY_MAP", "WORKSPACE")


def _evidence(*columns: sa.Column, key: Sequence[str]) -> None:  # type: ignore[type-arg]
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
        op.execute("ALTER TABLE health_evidence SET (fillfactor = 50)")


def upgrade() -> None:
    op.drop_table("health_evidence")
    _evidence(
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                *LEVELS,
                name="health_evidence_level",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        *(
            sa.Column(f"{window}{name}", kind, nullable=False)
            for window in ("", "previous_")
            for name, kind in (("n", sa.Integer()), ("total", sa.Float()), ("total_sq", sa.Float()))
        ),
        key=("workspace_id", "id", "metric"),
    )
    with op.batch_alter_table("health_scores") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=24), nullable=False, server_default="SCORED")
        )
        batch.alter_column("score", existing_type=sa.Float(), nullable=True)
        batch.alter_column("confidence", existing_type=sa.Float(), nullable=True)
        batch.add_column(sa.Column("low", sa.Float(), nullable=True))
        batch.add_column(sa.Column("high", sa.Float(), nullable=True))
        batch.add_column(sa.Column("standard_error", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("scored_parts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("parts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("health_snapshots") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=24), nullable=False, server_default="SCORED")
        )
        batch.alter_column("score", existing_type=sa.Float(), nullable=True)
        batch.alter_column("confidence", existing_type=sa.Float(), nullable=True)
        batch.add_column(sa.Column("low", sa.Float(), nullable=True))
        batch.add_column(sa.Column("high", sa.Float(), nullable=True))


def downgrade() -> None:
    # Scores and snapshots without a number cannot go back into NOT NULL columns.
    op.execute("DELETE FROM health_snapshots WHERE score IS NULL")
    op.execute("DELETE FROM health_scores WHERE score IS NULL")
    with op.batch_alter_table("health_snapshots") as batch:
        batch.drop_column("high")
        batch.drop_column("low")
        batch.alter_column("confidence", existing_type=sa.Float(), nullable=False)
        batch.alter_column("score", existing_type=sa.Float(), nullable=False)
        batch.drop_column("state")
    with op.batch_alter_table("health_scores") as batch:
        batch.drop_column("parts")
        batch.drop_column("scored_parts")
        batch.drop_column("standard_error")
        batch.drop_column("high")
        batch.drop_column("low")
        batch.alter_column("confidence", existing_type=sa.Float(), nullable=False)
        batch.alter_column("score", existing_type=sa.Float(), nullable=False)
        batch.drop_column("state")
    op.drop_table("health_evidence")
    old = [
        sa.Column(f"{window}{name}", kind, nullable=False)
        for window in ("", "previous_")
        for name, kind in (
            ("satisfaction_weight", sa.Float()),
            ("satisfaction_total", sa.Float()),
            ("satisfaction_count", sa.Integer()),
            ("sentiment_weight", sa.Float()),
            ("sentiment_total", sa.Float()),
            ("sentiment_count", sa.Integer()),
            ("items", sa.Integer()),
        )
    ]
    _evidence(
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        *old,
        key=("workspace_id", "id"),
    )
