"""Noting when a credential (API token, session, ingestion token) was last used.

Writing on every request would turn every read into a write, so the stamp moves at
most once a minute. It is its own short write transaction, conditional so that
concurrent requests with the same credential write once; reads never hold a write
lock (SQLite) this way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import or_, update

from backend.db.engine import Database
from backend.db.scoping import TenantBinding

RESOLUTION = timedelta(minutes=1)


def is_due(last: datetime | None, now: datetime) -> bool:
    return last is None or now - last >= RESOLUTION


async def stamp(
    db: Database, model: Any, row_id: UUID, column: str, now: datetime, binding: TenantBinding
) -> None:
    """Set ``model.column`` to ``now`` on row ``row_id``, unless stamped under a minute ago.

    ``binding`` reaches the row (row-level security): its owner or its secret's hash.
    """
    stamped = getattr(model, column)
    async with db.transaction(binding, write=True) as session:
        await session.execute(
            update(model)
            .where(model.id == row_id, or_(stamped.is_(None), stamped <= now - RESOLUTION))
            .values({column: now})
        )
