"""Health's loaders: stored scores, a workspace's thresholds, a map's last review.

Each of these rows has its subject's id for its own: a score's is its touchpoint's,
stage's, map's or workspace's; thresholds', their workspace's; a review's, its map's.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.lookup import ScopedRows, rows_by_id
from backend.db.shared_reads import Reads
from backend.models import HealthScore, HealthSettings, MapReview
from graphql_schema.dataloaders.base import PlainRowByKeyLoader, RowByKeyLoader, by_id
from graphql_schema.dataloaders.guidance import LinksBySubjectLoader


class HealthScoreBySubjectLoader(PlainRowByKeyLoader[HealthScore]):
    async def fetch_rows(self, rows: ScopedRows, keys: list[UUID]) -> Mapping[UUID, HealthScore]:
        return by_id(await rows.select(HealthScore, HealthScore.id.in_(keys)))


class HealthSettingsByWorkspaceLoader(RowByKeyLoader[HealthSettings]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, HealthSettings]:
        return by_id(await rows_by_id(session, HealthSettings, keys))


class MapReviewByMapLoader(RowByKeyLoader[MapReview]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, MapReview]:
        return by_id(await rows_by_id(session, MapReview, keys))


class HealthLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.score_by_subject = HealthScoreBySubjectLoader(reads, access)
        self.settings_by_workspace = HealthSettingsByWorkspaceLoader(reads, access)
        self.review_by_map = MapReviewByMapLoader(reads, access)
        self.links_by_subject = LinksBySubjectLoader(reads, access)
