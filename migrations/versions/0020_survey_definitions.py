"""Survey definitions, and what feedback knows about its survey, language and place.

``survey_definitions`` holds each version of a workspace's survey questions: measure
kind, scale, direction and wording. Feedback gains the definition its measure answered
(``survey_definition_id``), the sentiment scorer's verdict (``sentiment_status``: text
that cannot be scored is UNSCORED, never neutral), the detected ``language``, and how
it was placed on a journey (``placement``, with the candidate touchpoints of an
ambiguous match). Touchpoints gain their declared monthly ``traffic``, health settings
a ``target_score``, and health requests the day from which history is recomputed.

Existing rows: feedback with a sentiment is SCORED, without text UNSCORED, the rest
PENDING; feedback linked to a touchpoint, stage or map is LINKED, feedback that carried
match keys but found no touchpoint UNMATCHED (it joins the queue an editor works
through), the rest NONE.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURE_KINDS = ("CSAT", "NPS", "CES", "RATING")
SENTIMENT_STATUSES = ("PENDING", "SCORED", "UNSCORED")
PLACEMENTS = ("LINKED", "MATCHED", "AMBIGUOUS", "UNMATCHED", "ASSIGNED", "NONE")


def _enum(values: Sequence[str], name: str, length: int = 16) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        "survey_definitions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("measure", _enum(MEASURE_KINDS, "survey_measure_kind"), nullable=False),
        sa.Column("scale_min", sa.Integer(), nullable=False),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scale_min < scale_max", name=op.f("ck_survey_definitions_survey_scale_order")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_survey_definitions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_survey_definitions")),
        sa.UniqueConstraint(
            "workspace_id",
            "key",
            "version",
            name=op.f("uq_survey_definitions_workspace_id_key_version"),
        ),
    )
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(
            sa.Column(
                "sentiment_status",
                _enum(SENTIMENT_STATUSES, "feedback_sentiment_status"),
                nullable=False,
                server_default="PENDING",
            )
        )
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("survey_definition_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column(
                "placement",
                _enum(PLACEMENTS, "feedback_placement"),
                nullable=False,
                server_default="NONE",
            )
        )
        batch.add_column(
            sa.Column(
                "placement_candidates",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )
        batch.create_index("ix_feedback_workspace_id_placement", ["workspace_id", "placement"])
    with rls.across_workspaces("feedback"):
        op.execute(
            "UPDATE feedback SET sentiment_status = CASE"
            " WHEN sentiment IS NOT NULL THEN 'SCORED'"
            " WHEN text = '' THEN 'UNSCORED' ELSE 'PENDING' END,"
            " placement = CASE WHEN touchpoint_id IS NOT NULL OR stage_id IS NOT NULL"
            " OR journey_map_id IS NOT NULL THEN 'LINKED'"
            # Carried match keys but found no single touchpoint: it waits for an editor.
            " WHEN event_name IS NOT NULL OR url IS NOT NULL OR survey_id IS NOT NULL"
            " THEN 'UNMATCHED' ELSE 'NONE' END"
        )
    with op.batch_alter_table("touchpoints") as batch:
        batch.add_column(sa.Column("traffic", sa.Integer(), nullable=True))
    with op.batch_alter_table("health_settings") as batch:
        batch.add_column(sa.Column("target_score", sa.Float(), nullable=True))
    with op.batch_alter_table("health_requests") as batch:
        batch.add_column(sa.Column("backfill_from", sa.Date(), nullable=True))
    if rls.is_postgres():
        rls.grant_to_app("survey_definitions")
        rls.enable_workspace_rls("survey_definitions")


def downgrade() -> None:
    if rls.is_postgres():
        rls.disable_workspace_rls("survey_definitions")
    with op.batch_alter_table("health_requests") as batch:
        batch.drop_column("backfill_from")
    with op.batch_alter_table("health_settings") as batch:
        batch.drop_column("target_score")
    with op.batch_alter_table("touchpoints") as batch:
        batch.drop_column("traffic")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_workspace_id_placement")
        batch.drop_constraint(op.f("ck_feedback_feedback_placement"), type_="check")
        batch.drop_constraint(op.f("ck_feedback_feedback_sentiment_status"), type_="check")
        batch.drop_column("placement_candidates")
        batch.drop_column("placement")
        batch.drop_column("survey_definition_id")
        batch.drop_column("language")
        batch.drop_column("sentiment_status")
    op.drop_table("survey_definitions")
