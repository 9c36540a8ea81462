"""Metrics' field on Workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import strawberry

from backend.db.pagination import PageRequest
from backend.metrics.service import metrics_page
from graphql_schema.context import Info
from graphql_schema.metrics.types import MetricType
from graphql_schema.relay import Connection

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import WorkspaceType


@strawberry.field(description="Metrics (KPIs), by name.")
async def metrics(
    root: WorkspaceType,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[MetricType]:
    async with info.context.read() as session:
        page = await metrics_page(session, UUID(root.id), PageRequest(first, after, last, before))
    return Connection.from_page(page, MetricType.from_model)
