"""Metrics: define one on a touchpoint, stage or map; record its values over time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, paginate
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.models import Initiative, JourneyMap, Metric, MetricValue, Stage, Touchpoint
from backend.validation import instant, optional_text, required_text
from backend.vocabulary.metrics import MetricDirection, MetricSource
from backend.vocabulary.roles import WorkspaceRole

FIELDS = ("name", "unit", "direction", "target", "journey_map_id", "stage_id", "touchpoint_id")
LINKS = ("journey_map_id", "stage_id", "touchpoint_id")
MAX_VALUES = 1000


def _snapshot(metric: Metric) -> dict[str, Any]:
    return {name: getattr(metric, name) for name in FIELDS}


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and (not math.isfinite(value) or abs(value) > 1e15):
        raise ValidationFailed("Must be a finite number.", field=field)
    return value


async def _clean(
    session: AsyncSession, workspace_id: UUID, values: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "name" in values:
        cleaned["name"] = required_text(values["name"], field="name", max_length=200)
    if "unit" in values:
        cleaned["unit"] = optional_text(values["unit"], field="unit", max_length=40)
    if "direction" in values:
        if values["direction"] is None:
            raise ValidationFailed("Must not be null.", field="direction")
        cleaned["direction"] = MetricDirection(values["direction"])
    if "target" in values:
        cleaned["target"] = _finite(values["target"], "target")
    given = {name: values[name] for name in LINKS if values.get(name) is not None}
    for name, target in given.items():  # each must exist here, before the count matters
        await _check_link(session, workspace_id, name, target)
    if creating or given:
        if len(given) != 1:
            raise ValidationFailed(
                "Link it to exactly one of a touchpoint, a stage or a map.", field="touchpointId"
            )
        cleaned.update(dict.fromkeys(LINKS), **given)
    return cleaned


async def _check_link(session: AsyncSession, workspace_id: UUID, name: str, target: UUID) -> None:
    field = {"journey_map_id": "journeyMapId", "stage_id": "stageId"}.get(name, "touchpointId")
    kind: Any = {"journey_map_id": JourneyMap, "stage_id": Stage}.get(name, Touchpoint)
    statement = select(kind.id).where(kind.workspace_id == workspace_id, kind.id == target)
    if kind is JourneyMap:
        statement = statement.where(JourneyMap.deleted_at.is_(None))
    else:  # a stage or touchpoint of a live map
        statement = statement.join(JourneyMap, JourneyMap.id == kind.journey_map_id).where(
            JourneyMap.deleted_at.is_(None)
        )
    found = await session.scalar(statement)
    if found is None:
        raise NotFound(
            {"journeyMapId": "Journey map", "stageId": "Stage"}.get(field, "Touchpoint"),
            field=field,
        )


async def create_metric(
    session: AsyncSession, access: Access, workspace_id: UUID, values: Mapping[str, Any]
) -> Metric:
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspaceId")
    cleaned = await _clean(session, workspace_id, values, creating=True)
    metric = Metric(workspace_id=workspace_id, **{"unit": "", **cleaned})
    session.add(metric)
    await session.flush()
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="metric.create",
        subject_type="Metric",
        subject_id=metric.id,
        changes=changes_of({}, _snapshot(metric)),
    )
    return metric


async def _editable(session: AsyncSession, access: Access, metric_id: UUID, field: str) -> Metric:
    metric = await session.scalar(select(Metric).where(Metric.id == metric_id))
    if metric is None or access.workspace_role(metric.workspace_id) is None:
        raise NotFound("Metric", field=field)
    access.require_workspace(metric.workspace_id, WorkspaceRole.EDITOR, field=field)
    return metric


async def update_metric(
    session: AsyncSession, access: Access, metric_id: UUID, values: Mapping[str, Any]
) -> Metric:
    metric = await _editable(session, access, metric_id, "id")
    cleaned = await _clean(session, metric.workspace_id, values, creating=False)
    before = _snapshot(metric)
    for name, value in cleaned.items():
        setattr(metric, name, value)
    await session.flush()
    await audit.record(
        session,
        workspace_id=metric.workspace_id,
        action="metric.update",
        subject_type="Metric",
        subject_id=metric.id,
        changes=changes_of(before, _snapshot(metric)),
    )
    return metric


async def delete_metric(session: AsyncSession, access: Access, metric_id: UUID) -> UUID:
    """Delete a metric and its values; initiatives targeting it lose the target."""
    metric = await _editable(session, access, metric_id, "id")
    before = _snapshot(metric)
    await session.execute(
        delete(MetricValue).where(
            MetricValue.workspace_id == metric.workspace_id, MetricValue.metric_id == metric_id
        )
    )
    for initiative in (
        await session.scalars(
            select(Initiative).where(
                Initiative.workspace_id == metric.workspace_id,
                Initiative.target_metric_id == metric_id,
            )
        )
    ).all():
        initiative.target_metric_id = None
    await session.delete(metric)
    await session.flush()
    await audit.record(
        session,
        workspace_id=metric.workspace_id,
        action="metric.delete",
        subject_type="Metric",
        subject_id=metric_id,
        changes=changes_of(before, dict.fromkeys(before)),
    )
    return metric_id


async def record_values(
    session: AsyncSession,
    access: Access,
    metric_id: UUID,
    observations: Sequence[tuple[float, datetime]],
    source: MetricSource,
) -> tuple[Metric, int]:
    """Record observations; one at a moment already recorded replaces it."""
    metric = await _editable(session, access, metric_id, "metricId")
    if not observations:
        raise ValidationFailed("Send at least one value.", field="values")
    if len(observations) > MAX_VALUES:
        raise ValidationFailed(f"At most {MAX_VALUES} values at once.", field="values")
    latest: dict[datetime, float] = {}
    for index, (value, observed_at) in enumerate(observations):
        _finite(value, f"values[{index}].value")
        moment = instant(observed_at, field=f"values[{index}].observedAt")
        latest[moment] = value  # the last one sent for a moment wins
    existing = {
        row.observed_at: row
        for row in (
            await session.scalars(
                select(MetricValue).where(
                    MetricValue.workspace_id == metric.workspace_id,
                    tuple_(MetricValue.metric_id, MetricValue.observed_at).in_(
                        [(metric_id, at) for at in latest]
                    ),
                )
            )
        ).all()
    }
    now = utcnow()
    for observed_at, value in latest.items():
        row = existing.get(observed_at)
        if row is None:
            session.add(
                MetricValue(
                    workspace_id=metric.workspace_id,
                    metric_id=metric_id,
                    value=value,
                    observed_at=observed_at,
                    source=source,
                    recorded_at=now,
                )
            )
        else:
            row.value, row.source, row.recorded_at = value, source, now
    await session.flush()
    await audit.record(
        session,
        workspace_id=metric.workspace_id,
        action="metric.record",
        subject_type="Metric",
        subject_id=metric_id,
        changes=changes_of(
            {}, {"values": len(latest), "replaced": len(existing), "source": source}
        ),
    )
    return metric, len(latest)


async def metrics_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Metric]:
    return (await session.scalars(select(Metric).where(Metric.id.in_(list(ids))))).all()


async def latest_values(
    session: AsyncSession, metric_ids: Iterable[UUID]
) -> dict[UUID, MetricValue]:
    """Each metric's most recent observation, for many metrics in one statement."""
    ids = list(metric_ids)
    newest = (
        select(MetricValue.metric_id, func.max(MetricValue.observed_at).label("at"))
        .where(MetricValue.metric_id.in_(ids))
        .group_by(MetricValue.metric_id)
        .subquery()
    )
    rows = (
        await session.scalars(
            select(MetricValue).join(
                newest,
                and_(
                    MetricValue.metric_id == newest.c.metric_id,
                    MetricValue.observed_at == newest.c.at,
                ),
            )
        )
    ).all()
    return {row.metric_id: row for row in rows}


async def metrics_page(
    session: AsyncSession, workspace_id: UUID, first: int | None, after: str | None
) -> Page[Metric]:
    return await paginate(
        session,
        select(Metric).where(Metric.workspace_id == workspace_id),
        keys=[Metric.name, Metric.id],
        first=first,
        after=after,
    )


async def values_page(
    session: AsyncSession,
    metric_id: UUID,
    *,
    starts: datetime | None,
    ends: datetime | None,
    first: int | None,
    after: str | None,
) -> Page[MetricValue]:
    statement = select(MetricValue).where(MetricValue.metric_id == metric_id)
    if starts is not None:
        statement = statement.where(MetricValue.observed_at >= starts)
    if ends is not None:
        statement = statement.where(MetricValue.observed_at < ends)
    return await paginate(
        session,
        statement,
        keys=[MetricValue.observed_at, MetricValue.id],
        first=first,
        after=after,
    )
