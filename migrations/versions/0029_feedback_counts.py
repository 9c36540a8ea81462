"""Each workspace's number of feedback items, kept by triggers, for a page's totalCount.

The feedback list's statement counted the workspace's items for ``totalCount``: an
index-only scan of 20,000 entries in a medium world, 1.3-1.5 ms of Postgres CPU, about
a third of the statement (docs/benchmarks.md, step 30). Statement-level triggers on
feedback now add what each insert inserted and take off what each delete deleted, in
the same transaction, so a snapshot that sees the rows sees their count; the read is
one row.

The table is a workspace table like any other (forced row-level security, the same
policy): whoever may insert or delete a workspace's feedback may change its count, and
the app role reads only the bound workspaces' counts. The triggers run as whoever
changed the feedback, under the same policy, so a count changes exactly where the rows
did. Feedback never moves between workspaces (a trigger refuses it), and a data
migration that lifts the policy on feedback alone (``rls.across_workspaces``) must lift
it on feedback_counts too. On SQLite nothing keeps or reads it: the reads count.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import rls

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows upserted in workspace order, so two statements adding to the same workspaces
# take their locks in one order.
_FUNCTIONS = (
    """
    CREATE FUNCTION waypost_feedback_added() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      INSERT INTO feedback_counts AS c (workspace_id, id, items)
      SELECT workspace_id, workspace_id, count(*) FROM added
      GROUP BY workspace_id ORDER BY workspace_id
      ON CONFLICT (workspace_id, id) DO UPDATE SET items = c.items + excluded.items;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION waypost_feedback_removed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      UPDATE feedback_counts AS c SET items = c.items - gone.items
      FROM (SELECT workspace_id, count(*) AS items FROM removed GROUP BY workspace_id) AS gone
      WHERE c.workspace_id = gone.workspace_id AND c.id = gone.workspace_id;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION waypost_feedback_truncated() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      TRUNCATE feedback_counts;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION waypost_feedback_stays() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      RAISE EXCEPTION 'feedback does not move between workspaces';
    END $$
    """,
)

_TRIGGERS = (
    "CREATE TRIGGER feedback_counted_in AFTER INSERT ON feedback REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION waypost_feedback_added()",
    "CREATE TRIGGER feedback_counted_out AFTER DELETE ON feedback REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION waypost_feedback_removed()",
    "CREATE TRIGGER feedback_counted_none AFTER TRUNCATE ON feedback"
    " FOR EACH STATEMENT EXECUTE FUNCTION waypost_feedback_truncated()",
    "CREATE TRIGGER feedback_stays_in_its_workspace BEFORE UPDATE OF workspace_id ON feedback"
    " FOR EACH ROW WHEN (old.workspace_id IS DISTINCT FROM new.workspace_id)"
    " EXECUTE FUNCTION waypost_feedback_stays()",
)

_BACKFILL = """
    INSERT INTO feedback_counts (workspace_id, id, items)
    SELECT workspace_id, workspace_id, count(*) FROM feedback GROUP BY workspace_id
"""


def upgrade() -> None:
    op.create_table(
        "feedback_counts",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_counts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_feedback_counts")),
    )
    if not rls.is_postgres():
        return
    rls.grant_to_app("feedback_counts")
    rls.enable_workspace_rls("feedback_counts")
    for function in _FUNCTIONS:
        op.execute(function)
    # In one transaction with the triggers: no insert is counted twice or not at all.
    op.execute("LOCK TABLE feedback IN SHARE MODE")
    with rls.across_workspaces("feedback"), rls.across_workspaces("feedback_counts"):
        op.execute(_BACKFILL)
    for trigger in _TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if rls.is_postgres():
        for trigger in (
            "feedback_counted_in",
            "feedback_counted_out",
            "feedback_counted_none",
            "feedback_stays_in_its_workspace",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON feedback")
        for function in (
            "waypost_feedback_added",
            "waypost_feedback_removed",
            "waypost_feedback_truncated",
            "waypost_feedback_stays",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        rls.disable_workspace_rls("feedback_counts")
    op.drop_table("feedback_counts")
