"""Indexes for lookups by id lists on the map's tables, as 0013 added for scores.

The primary keys start with workspace_id. With many workspaces bound (an agency's
token reaches 50), a lookup of 100 touchpoints by id would probe the key once per
workspace and id, so Postgres scans the table instead: 49 ms for the touchpoints of a
page of feedback in a medium world, where an index on the id alone answers in about
one. The same holds for maps, stages, pain points and opportunities (by id), and for
opportunities by touchpoint (pain points have that one since 0013).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 20:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_journey_maps_id", "journey_maps", "id"),
    ("ix_stages_id", "stages", "id"),
    ("ix_touchpoints_id", "touchpoints", "id"),
    ("ix_pain_points_id", "pain_points", "id"),
    ("ix_opportunities_id", "opportunities", "id"),
    ("ix_opportunities_touchpoint_id", "opportunities", "touchpoint_id"),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
