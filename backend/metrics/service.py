"""Metrics: define one on a touchpoint, stage or map; record its values over time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.metrics import repository
from backend.metrics.commands import CreateMetric, RecordValues, UpdateMetric
from backend.models import Metric, MetricValue
from backend.patch import UNSET
from backend.validation import Checks, instant, optional_text, required_text
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import WorkspaceRole

FIELDS = ("name", "unit", "direction", "target", "journey_map_id", "stage_id", "touchpoint_id")
LINKS = ("journey_map_id", "stage_id", "touchpoint_id")
MAX_VALUES = 1000


def _snapshot(metric: Metric) -> dict[str, object]:
    return {name: getattr(metric, name) for name in FIELDS}


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and (not math.isfinite(value) or abs(value) > 1e15):
        raise ValidationFailed("Must be a finite number.", field=field)
    return value


def _name(value: str) -> str:
    return required_text(value, field="name", max_length=200)


def _unit(value: str | None) -> str:
    return optional_text(value, field="unit", max_length=40)


async def _links(
    session: AsyncSession,
    workspace_id: UUID,
    wanted: Mapping[str, UUID | None],
    *,
    creating: bool,
) -> dict[str, UUID | None]:
    """The link columns to write: none when an update names no link, else exactly one set."""
    given = {name: target for name, target in wanted.items() if target is not None}
    for name, target in given.items():  # each must exist here, before the count matters
        await _check_link(session, workspace_id, name, target)
    if not (creating or given):
        return {}
    if len(given) != 1:
        raise ValidationFailed(
            "Link it to exactly one of a touchpoint, a stage or a map.", field="touchpoint_id"
        )
    return {**dict.fromkeys(LINKS), **given}


async def _check_link(session: AsyncSession, workspace_id: UUID, name: str, target: UUID) -> None:
    if name == "journey_map_id":
        if not await repository.journey_map_is_live(session, workspace_id, target):
            raise NotFound("Journey map", field=name)
    elif name == "stage_id":
        if not await repository.stage_is_live(session, workspace_id, target):
            raise NotFound("Stage", field=name)
    elif not await repository.touchpoint_is_live(session, workspace_id, target):
        raise NotFound("Touchpoint", field="touchpoint_id")


async def create_metric(session: AsyncSession, access: Access, command: CreateMetric) -> Metric:
    workspace_id = command.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspace_id")
    with Checks() as check:  # every field's mistake at once
        name, unit = check(_name, command.name), check(_unit, command.unit)
        target = check(_finite, command.target, "target")
    links = await _links(
        session,
        workspace_id,
        {
            "journey_map_id": command.journey_map_id,
            "stage_id": command.stage_id,
            "touchpoint_id": command.touchpoint_id,
        },
        creating=True,
    )
    metric = Metric(
        workspace_id=workspace_id,
        name=name,
        unit=unit,
        direction=command.direction,
        target=target,
        **links,
    )
    await repository.save(session, metric)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.METRIC_CREATE,
        subject_type="Metric",
        subject_id=metric.id,
        changes=changes_of({}, _snapshot(metric)),
    )
    return metric


async def _editable(session: AsyncSession, access: Access, metric_id: UUID, field: str) -> Metric:
    metric = await repository.metric(session, metric_id)
    if metric is None or access.workspace_role(metric.workspace_id) is None:
        raise NotFound("Metric", field=field)
    access.require_workspace(metric.workspace_id, WorkspaceRole.EDITOR, field=field)
    return metric


async def update_metric(session: AsyncSession, access: Access, command: UpdateMetric) -> Metric:
    metric = await _editable(session, access, command.metric_id, "id")
    changes: dict[str, object] = {}
    with Checks() as check:
        if command.name is not UNSET:
            changes["name"] = check(_name, command.name)
        if command.unit is not UNSET:
            changes["unit"] = check(_unit, command.unit)
        if command.direction is not UNSET:
            changes["direction"] = command.direction
        if command.target is not UNSET:
            changes["target"] = check(_finite, command.target, "target")
    wanted_links = {
        "journey_map_id": command.journey_map_id,
        "stage_id": command.stage_id,
        "touchpoint_id": command.touchpoint_id,
    }
    changes |= await _links(
        session,
        metric.workspace_id,
        {name: target for name, target in wanted_links.items() if target is not UNSET},
        creating=False,
    )
    before = _snapshot(metric)
    for name, value in changes.items():
        setattr(metric, name, value)
    await repository.save(session, metric)
    await audit.record(
        session,
        workspace_id=metric.workspace_id,
        action=AuditAction.METRIC_UPDATE,
        subject_type="Metric",
        subject_id=metric.id,
        changes=changes_of(before, _snapshot(metric)),
    )
    return metric


async def delete_metric(session: AsyncSession, access: Access, metric_id: UUID) -> UUID:
    """Delete a metric and its values; initiatives targeting it lose the target."""
    metric = await _editable(session, access, metric_id, "id")
    before = _snapshot(metric)
    await repository.delete_metric(session, metric)
    await audit.record(
        session,
        workspace_id=metric.workspace_id,
        action=AuditAction.METRIC_DELETE,
        subject_type="Metric",
        subject_id=metric_id,
        changes=changes_of(before, dict.fromkeys(before)),
    )
    return metric_id


async def record_values(
    session: AsyncSession, access: Access, command: RecordValues
) -> tuple[Metric, int]:
    """Record observations; one at a moment already recorded replaces it."""
    metric = await _editable(session, access, command.metric_id, "metric_id")
    observations, source = command.observations, command.source
    if not observations:
        raise ValidationFailed("Send at least one value.", field="values")
    if len(observations) > MAX_VALUES:
        raise ValidationFailed(f"At most {MAX_VALUES} values at once.", field="values")
    latest: dict[datetime, float] = {}
    with Checks() as check:  # every bad value at once (at most MAX_VALUES)
        for index, observation in enumerate(observations):
            check(_finite, observation.value, f"values[{index}].value")
            moment = check(instant, observation.observed_at, field=f"values[{index}].observed_at")
            latest[moment] = observation.value  # the last one sent for a moment wins
    existing = await repository.values_at(session, metric, latest)
    now = utcnow()
    new: list[MetricValue] = []
    for observed_at, value in latest.items():
        row = existing.get(observed_at)
        if row is None:
            new.append(
                MetricValue(
                    workspace_id=metric.workspace_id,
                    metric_id=metric.id,
                    value=value,
                    observed_at=observed_at,
                    source=source,
                    recorded_at=now,
                )
            )
        else:
            row.value, row.source, row.recorded_at = value, source, now
    await repository.save_values(session, new)
    await audit.record(
        session,
        workspace_id=metric.workspace_id,
        action=AuditAction.METRIC_RECORD,
        subject_type="Metric",
        subject_id=metric.id,
        changes=changes_of(
            {}, {"values": len(latest), "replaced": len(existing), "source": source}
        ),
    )
    return metric, len(latest)


async def metrics_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Metric]:
    return await repository.metrics_by_ids(session, ids)


async def latest_values(
    session: AsyncSession, metric_ids: Iterable[UUID]
) -> dict[UUID, MetricValue]:
    """Each metric's most recent observation, for many metrics in one statement."""
    return await repository.latest_values(session, metric_ids)


async def metrics_page(
    session: AsyncSession, workspace_id: UUID, page: PageRequest
) -> Page[Metric]:
    return await repository.metrics_page(session, workspace_id, page)


async def values_page(
    session: AsyncSession,
    metric_id: UUID,
    *,
    starts: datetime | None,
    ends: datetime | None,
    page: PageRequest,
) -> Page[MetricValue]:
    return await repository.values_page(session, metric_id, starts=starts, ends=ends, page=page)
