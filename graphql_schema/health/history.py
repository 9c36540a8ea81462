"""``healthHistory`` on every scored level: Touchpoint, Stage, JourneyMap and Workspace."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Protocol
from uuid import UUID

import strawberry

from backend.health import history
from graphql_schema.context import Info
from graphql_schema.health.types import HealthBucket, HealthPointType


class _Scored(Protocol):
    id: str  # any subject health scores: its global id's node id


DESCRIPTION = (
    "Its health over time: one point per bucket with a snapshot, where it stood at the "
    "bucket's end. Feedback imported from the past recomputes the days it reaches."
)


def health_history_field() -> Any:
    """A fresh field for one type (a strawberry field belongs to the type it is on)."""
    return strawberry.field(resolver=_health_history, description=DESCRIPTION)


async def _health_history(
    root: _Scored,
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    bucket: HealthBucket = history.Bucket.DAY,
) -> list[HealthPointType]:
    async with info.context.read() as session:
        points = await history.history(session, UUID(root.id), from_, to, bucket)
    return [
        HealthPointType(
            starts_at=p.starts_at,
            score=p.score,
            sample_size=p.sample_size,
            confidence=p.confidence,
            low=p.low,
            high=p.high,
        )
        for p in points
    ]
