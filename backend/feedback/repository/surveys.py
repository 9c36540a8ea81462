"""Queries on survey definitions: the versions of a workspace's survey questions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import SurveyDefinition


class SurveyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, definition_id: UUID) -> SurveyDefinition | None:
        """One version by id, if the session's binding shows it."""
        return await self.session.scalar(
            select(SurveyDefinition).where(SurveyDefinition.id == definition_id)
        )

    async def newest(self, workspace_id: UUID, key: str) -> SurveyDefinition | None:
        return await self.session.scalar(
            select(SurveyDefinition)
            .where(SurveyDefinition.workspace_id == workspace_id, SurveyDefinition.key == key)
            .order_by(SurveyDefinition.version.desc())
            .limit(1)
        )

    async def newest_of_keys(
        self, workspace_id: UUID, keys: Collection[str]
    ) -> dict[str, SurveyDefinition]:
        """The newest version of each of these keys that exists, in one query (a batch
        names its keys once, whatever its size)."""
        if not keys:
            return {}
        rows = await self.session.scalars(_newest_versions(workspace_id, keys))
        return {row.key: row for row in rows}

    async def latest_versions(self, workspace_id: UUID) -> Sequence[SurveyDefinition]:
        """The newest version of every key, by key."""
        statement = _newest_versions(workspace_id, None).order_by(SurveyDefinition.key)
        return (await self.session.scalars(statement)).all()

    async def versions(self, workspace_id: UUID, key: str) -> Sequence[SurveyDefinition]:
        """Every version of one key, newest first."""
        return (
            await self.session.scalars(
                select(SurveyDefinition)
                .where(SurveyDefinition.workspace_id == workspace_id, SurveyDefinition.key == key)
                .order_by(SurveyDefinition.version.desc())
            )
        ).all()

    async def add(self, definition: SurveyDefinition) -> None:
        self.session.add(definition)
        await self.session.flush()


def _newest_versions(workspace_id: UUID, keys: Collection[str] | None) -> Select[SurveyDefinition]:
    """The newest version of each key of the workspace (of ``keys``, when given)."""
    newest = select(
        SurveyDefinition.key, func.max(SurveyDefinition.version).label("version")
    ).where(SurveyDefinition.workspace_id == workspace_id)
    if keys is not None:
        newest = newest.where(SurveyDefinition.key.in_(keys))
    found = newest.group_by(SurveyDefinition.key).subquery()
    return (
        select(SurveyDefinition)
        .join(
            found,
            (SurveyDefinition.key == found.c.key) & (SurveyDefinition.version == found.c.version),
        )
        .where(SurveyDefinition.workspace_id == workspace_id)
    )
