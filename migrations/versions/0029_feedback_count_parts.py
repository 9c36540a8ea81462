"""Each workspace's number of feedback items, kept as parts that writers only add.

The feedback list's statement counted the workspace's items for ``totalCount``: an
index-only scan of 20,000 entries in a medium world, about 1.3 ms of Postgres CPU, a
third of the statement (docs/benchmarks.md, steps 30 and 32). Statement-level triggers
on feedback now add a part of +n for what each insert inserted and of -n for what each
delete deleted, in the same transaction, so a snapshot that sees the rows sees their
count: the total is the sum of the workspace's parts.

Only ever adding rows is the point. A single count row a workspace was tried first: every
insert held its lock until commit, and the file import's batches, which commit in order,
deadlocked on it. Parts are folded into one by the ``feedback.received`` handler (rows
locked with SKIP LOCKED, which no writer ever takes), never by an ingesting transaction.

The table is a workspace table like any other (forced row-level security, the same
policy): whoever may insert or delete a workspace's feedback adds its parts, and the app
role reads only the bound workspaces' parts. The triggers run as whoever changed the
feedback. Feedback never moves between workspaces (a trigger refuses it). A workspace's
deletion takes its parts along (the foreign key); the feedback it takes along adds none.
On SQLite nothing keeps or reads them: the reads count.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import rls

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A delete adds no part for a workspace that is gone: feedback removed along with its
# workspace (feedback's one foreign key), whose parts go too. The workspaces table has
# no row-level security, so whoever deletes sees whether the workspace is still there.
_FUNCTIONS = (
    """
    CREATE FUNCTION waypost_feedback_added() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      INSERT INTO feedback_count_parts (workspace_id, id, items)
      SELECT workspace_id, gen_random_uuid(), count(*) FROM added GROUP BY workspace_id;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION waypost_feedback_removed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      INSERT INTO feedback_count_parts (workspace_id, id, items)
      SELECT r.workspace_id, gen_random_uuid(), -count(*) FROM removed r
      WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = r.workspace_id)
      GROUP BY r.workspace_id;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION waypost_feedback_truncated() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public AS $$
    BEGIN
      TRUNCATE feedback_count_parts;
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
_TRIGGER_NAMES = (
    "feedback_counted_in",
    "feedback_counted_out",
    "feedback_counted_none",
    "feedback_stays_in_its_workspace",
)
_FUNCTION_NAMES = (
    "waypost_feedback_added",
    "waypost_feedback_removed",
    "waypost_feedback_truncated",
    "waypost_feedback_stays",
)

_BACKFILL = """
    INSERT INTO feedback_count_parts (workspace_id, id, items)
    SELECT workspace_id, gen_random_uuid(), count(*) FROM feedback GROUP BY workspace_id
"""


def upgrade() -> None:
    op.create_table(
        "feedback_count_parts",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_feedback_count_parts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_feedback_count_parts")),
    )
    if not rls.is_postgres():
        return
    rls.grant_to_app("feedback_count_parts")
    rls.enable_workspace_rls("feedback_count_parts")
    for function in _FUNCTIONS:
        op.execute(function)
    # In one transaction with the triggers: no insert is counted twice or not at all.
    op.execute("LOCK TABLE feedback IN SHARE MODE")
    with rls.across_workspaces("feedback"), rls.across_workspaces("feedback_count_parts"):
        op.execute(_BACKFILL)
    for trigger in _TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if rls.is_postgres():
        for trigger in _TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON feedback")
        for function in _FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        rls.disable_workspace_rls("feedback_count_parts")
    op.drop_table("feedback_count_parts")
