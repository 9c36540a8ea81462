"""Health generations: a per-workspace count of health passes, the key of cached map reads.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import rls

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_generations",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_health_generations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_health_generations")),
    )
    if rls.is_postgres():
        rls.grant_to_app("health_generations")
        rls.enable_workspace_rls("health_generations")


def downgrade() -> None:
    if rls.is_postgres():
        rls.disable_workspace_rls("health_generations")
    op.drop_table("health_generations")
