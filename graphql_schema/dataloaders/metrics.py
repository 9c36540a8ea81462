"""Metrics' loaders: metrics, and each one's latest value."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.lookup import rows_by_id
from backend.db.shared_reads import Reads
from backend.metrics.service import latest_values
from backend.models import Metric, MetricValue
from graphql_schema.dataloaders.base import RowByKeyLoader, by_id


class MetricByIdLoader(RowByKeyLoader[Metric]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Metric]:
        return by_id(await rows_by_id(session, Metric, keys))


class LatestMetricValueByMetricLoader(RowByKeyLoader[MetricValue]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, MetricValue]:
        return await latest_values(session, keys)


class MetricLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.metric_by_id = MetricByIdLoader(reads, access)
        self.latest_value_by_metric = LatestMetricValueByMetricLoader(reads, access)
