"""The queries of re-scoring a workspace's sentiment: its texts in id order, a chunk at
a time, so an interrupted run resumes after the last id it committed."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import Feedback


async def texts_after(
    session: AsyncSession, workspace_id: UUID, after: UUID | None, limit: int
) -> Sequence[Feedback]:
    statement = select(Feedback).where(Feedback.workspace_id == workspace_id)
    if after is not None:
        statement = statement.where(Feedback.id > after)
    return (await session.scalars(statement.order_by(Feedback.id).limit(limit))).all()
