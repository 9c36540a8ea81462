"""An audit event's changes are kept as the text the API writes for them (json, not jsonb).

jsonb rewrites a document: ", " and ": " between its parts, and each number as numeric
writes it. So an answer listing events read every ``changes`` back and wrote it again,
and a float of 1e16 or more came back an integer (10000000000000000), which hashes
otherwise than the float the event was hashed with: its chain read as broken. Kept as
``json``, the text is what was written (``backend.db.types.WrittenJSON``: orjson's
compact bytes), read back as written, and a statement can put it into an answer as it
is (docs/benchmarks.md, step 34).

Stored events are rewritten here as that text, from what jsonb kept: the value the API
read back from them until now, so an event's hash still matches what verification
reads. Events are never searched by their changes: no index is lost. In batches, every
scope's, behind row-level security's back (``rls.across_workspaces``). SQLite keeps JSON
as text already: nothing to do there.

Like every migration here it is one transaction: the type change locks both audit tables
and rewrites them, so audited mutations wait until it ends (some seconds a million
events). Events that jsonb had already changed (a float of 1e16 or more, -0.0) keep the
value jsonb gave them and their chain stays reported broken: what they were is lost. A
downgrade back to jsonb changes such values again in events written since.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence
from contextlib import nullcontext

import sqlalchemy as sa
from alembic import op

from backend.db.engine import read_json
from backend.db.types import compact_json
from migrations import rls

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table and its primary key, walked in order a batch at a time.
TABLES = {"audit_events": ("workspace_id", "id"), "account_audit_events": ("id",)}
# Only workspace events have row-level security (forced, on the owner too).
WORKSPACE_TABLE = "audit_events"
BATCH = 5000


def upgrade() -> None:
    if not rls.is_postgres():
        return
    for table, key in TABLES.items():
        across = rls.across_workspaces(table) if table == WORKSPACE_TABLE else nullcontext()
        with across:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN changes TYPE json USING changes::json")
            _rewrite(table, key)


def downgrade() -> None:
    if not rls.is_postgres():
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN changes TYPE jsonb USING changes::jsonb")


def _rewrite(table: str, key: tuple[str, ...]) -> None:
    """Each event's changes as ``compact_json`` writes what the API read back from them."""
    bind = op.get_bind()
    columns = ", ".join(key)
    after = ""
    last: tuple[object, ...] | None = None
    while True:
        if last is not None:
            marks = ", ".join(f":k{n}" for n in range(len(key)))
            after = f" WHERE ({columns}) > ({marks})"
        rows = bind.execute(
            sa.text(
                f"SELECT {columns}, changes::text FROM {table}{after}"
                f" ORDER BY {columns} LIMIT {BATCH}"
            ),
            {f"k{n}": v for n, v in enumerate(last or ())},
        ).all()
        if not rows:
            return
        rewritten = [(row[: len(key)], compact_json(read_json(row[-1]))) for row in rows]
        changed = [(k, t) for (k, t), row in zip(rewritten, rows, strict=True) if t != row[-1]]
        if changed:
            keys = ", ".join(f"unnest(CAST(:k{n} AS uuid[])) AS k{n}" for n in range(len(key)))
            matches = " AND ".join(f"t.{c} = v.k{n}" for n, c in enumerate(key))
            bind.execute(
                sa.text(
                    f"UPDATE {table} t SET changes = v.changes::json"
                    f" FROM (SELECT {keys}, unnest(CAST(:changes AS text[])) AS changes) v"
                    f" WHERE {matches}"
                ),
                {
                    **{f"k{n}": [k[n] for k, _ in changed] for n in range(len(key))},
                    "changes": [text for _, text in changed],
                },
            )
        last = tuple(rows[-1][: len(key)])
