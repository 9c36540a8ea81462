"""Folding a workspace's feedback count parts into one (Postgres keeps them, 0029).

Each insert into feedback adds a part of +n and each delete one of -n, so parts pile up
one per ingesting statement. A read sums them: folding keeps that a handful of rows.
Rows are taken with SKIP LOCKED and writers only add new ones, so a fold never waits
for an ingesting transaction nor makes one wait, and two folds at once each fold what
the other did not take. The sum is unchanged by a fold, in every snapshot: the parts it
removes and the one it adds commit together.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.scoping import require_bound

# Folds only where there is something to fold (two parts or more); a sum of nothing
# left (every item deleted) needs no part at all.
_FOLD = text(
    """
    WITH taken AS (
      SELECT id FROM feedback_count_parts WHERE workspace_id = :workspace_id
      FOR UPDATE SKIP LOCKED
    ), gone AS (
      DELETE FROM feedback_count_parts p USING taken
      WHERE p.workspace_id = :workspace_id AND p.id = taken.id
        AND (SELECT count(*) FROM taken) > 1
      RETURNING p.items
    )
    INSERT INTO feedback_count_parts (workspace_id, id, items)
    SELECT :workspace_id, gen_random_uuid(), sum(items) FROM gone HAVING sum(items) <> 0
    """
)


async def fold_count_parts(session: AsyncSession, workspace_id: UUID) -> None:
    """Fold the workspace's count parts into one; nothing to do on SQLite (none kept)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    require_bound(session, workspace_id, "folding feedback count parts")
    await session.execute(_FOLD, {"workspace_id": workspace_id})
