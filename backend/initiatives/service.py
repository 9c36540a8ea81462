"""Initiatives: create, update (the status only along allowed moves), delete, list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, paginate
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.models import (
    Initiative,
    JourneyMap,
    Metric,
    OrganizationMembership,
    PainPoint,
    Touchpoint,
    Workspace,
    WorkspaceMembership,
)
from backend.validation import (
    bounded_float,
    bounded_int,
    instant,
    optional_text,
    required_text,
)
from backend.vocabulary.initiatives import TRANSITIONS, InitiativeOrder, InitiativeStatus
from backend.vocabulary.roles import OrgRole, WorkspaceRole

FIELDS = (
    "title",
    "description",
    "status",
    "owner_id",
    "department",
    "impact",
    "effort",
    "confidence",
    "reach",
    "touchpoint_ids",
    "pain_point_ids",
    "target_metric_id",
    "baseline",
    "target",
    "shipped_at",
)
DEFAULTS: dict[str, Any] = {
    "description": "",
    "department": "",
    "impact": 3,
    "effort": 3,
    "confidence": 0.5,
    "reach": 0,
    "touchpoint_ids": [],
    "pain_point_ids": [],
}
SHIPPED = frozenset({InitiativeStatus.SHIPPED, InitiativeStatus.DONE})
MAX_LINKS = 200


def rice(reach: int, impact: int, confidence: float, effort: int) -> float:
    """RICE priority: reach x impact x confidence / effort."""
    return reach * impact * confidence / effort


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snapshot(initiative: Initiative) -> dict[str, Any]:
    return {name: getattr(initiative, name) for name in (*FIELDS, "priority")}


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        field = _camel(name)
        if name == "title":
            cleaned[name] = required_text(value, field=field, max_length=200)
        elif name == "description":
            cleaned[name] = optional_text(value, field=field, max_length=10_000)
        elif name == "department":
            cleaned[name] = optional_text(value, field=field, max_length=120)
        elif name in ("impact", "effort"):
            cleaned[name] = bounded_int(_required(value, field), field=field, low=1, high=5)
        elif name == "confidence":
            cleaned[name] = bounded_float(_required(value, field), field=field, low=0, high=1)
        elif name == "reach":
            cleaned[name] = bounded_int(_required(value, field), field=field, low=0, high=10**9)
        elif name in ("baseline", "target"):
            cleaned[name] = bounded_float(value, field=field, low=-1e15, high=1e15)
        elif name == "status":
            cleaned[name] = InitiativeStatus(_required(value, field))
        elif name == "shipped_at":
            cleaned[name] = instant(value, field=field) if value is not None else None
        else:
            cleaned[name] = value  # ids: checked against the workspace below
    return cleaned


def _required(value: Any, field: str) -> Any:
    if value is None:
        raise ValidationFailed("Must not be null.", field=field)
    return value


async def _check_links(session: AsyncSession, workspace_id: UUID, cleaned: dict[str, Any]) -> None:
    """Every id must name something live in this workspace; the error names which."""
    if "touchpoint_ids" in cleaned:
        cleaned["touchpoint_ids"] = await _live(
            session,
            workspace_id,
            cleaned["touchpoint_ids"] or [],
            select(Touchpoint.id)
            .join(JourneyMap, JourneyMap.id == Touchpoint.journey_map_id)
            .where(JourneyMap.deleted_at.is_(None)),
            Touchpoint.id,
            Touchpoint.workspace_id,
            "touchpointIds",
        )
    if "pain_point_ids" in cleaned:
        cleaned["pain_point_ids"] = await _live(
            session,
            workspace_id,
            cleaned["pain_point_ids"] or [],
            select(PainPoint.id),
            PainPoint.id,
            PainPoint.workspace_id,
            "painPointIds",
        )
    metric_id = cleaned.get("target_metric_id")
    if metric_id is not None and not await session.scalar(
        select(Metric.id).where(Metric.workspace_id == workspace_id, Metric.id == metric_id)
    ):
        raise NotFound("Metric", field="targetMetricId")
    owner = cleaned.get("owner_id")
    if owner is not None and not await _can_own(session, workspace_id, owner):
        # Not a possible owner here: someone outside the workspace is not to be found.
        raise NotFound("User", field="ownerId")


async def _live(
    session: AsyncSession,
    workspace_id: UUID,
    ids: Sequence[UUID],
    query: Any,
    id_column: Any,
    workspace_column: Any,
    field: str,
) -> list[str]:
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_LINKS:
        raise ValidationFailed(f"At most {MAX_LINKS}.", field=field)
    found = set(
        (
            await session.scalars(
                query.where(workspace_column == workspace_id, id_column.in_(unique))
            )
        ).all()
    )
    for index, wanted in enumerate(unique):
        if wanted not in found:
            raise NotFound(field.removesuffix("Ids").title(), field=f"{field}[{index}]")
    return [str(i) for i in unique]


async def _can_own(session: AsyncSession, workspace_id: UUID, user_id: UUID) -> bool:
    if await session.scalar(
        select(WorkspaceMembership.id).where(
            WorkspaceMembership.workspace_id == workspace_id,
            WorkspaceMembership.user_id == user_id,
        )
    ):
        return True
    role = await session.scalar(
        select(OrganizationMembership.role)
        .join(Workspace, Workspace.organization_id == OrganizationMembership.organization_id)
        .where(Workspace.id == workspace_id, OrganizationMembership.user_id == user_id)
    )
    return role is not None and OrgRole(role).at_least(OrgRole.ADMIN)


def _move(initiative: Initiative | None, cleaned: dict[str, Any], now: datetime) -> None:
    """Apply the status workflow; SHIPPED stamps shipped_at unless one is given."""
    current = initiative.status if initiative else None
    wanted = cleaned.get("status", current or InitiativeStatus.IDEA)
    if current is not None and wanted != current and wanted not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        raise ValidationFailed(
            f"Cannot go from {current} to {wanted}; from {current}: {allowed}.", field="status"
        )
    shipped_at = cleaned.get("shipped_at", initiative.shipped_at if initiative else None)
    if wanted in SHIPPED:
        if shipped_at is None:
            shipped_at = now
        if shipped_at > now:
            raise ValidationFailed("Must not be in the future.", field="shippedAt")
    elif "shipped_at" in cleaned and cleaned["shipped_at"] is not None:
        raise ValidationFailed("Only a SHIPPED or DONE initiative has one.", field="shippedAt")
    else:
        shipped_at = None  # back in progress: it ships again later
    cleaned["status"] = wanted
    cleaned["shipped_at"] = shipped_at


async def create_initiative(
    session: AsyncSession, access: Access, workspace_id: UUID, values: Mapping[str, Any]
) -> Initiative:
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspaceId")
    cleaned = _plain(values)
    await _check_links(session, workspace_id, cleaned)
    _move(None, cleaned, utcnow())
    if "title" not in cleaned:
        raise ValidationFailed("Required.", field="title")
    initiative = Initiative(
        workspace_id=workspace_id, created_by=access.user_id, **{**DEFAULTS, **cleaned}
    )
    initiative.priority = rice(
        initiative.reach, initiative.impact, initiative.confidence, initiative.effort
    )
    session.add(initiative)
    await session.flush()
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="initiative.create",
        subject_type="Initiative",
        subject_id=initiative.id,
        changes=changes_of({}, _snapshot(initiative)),
    )
    return initiative


async def _editable(session: AsyncSession, access: Access, initiative_id: UUID) -> Initiative:
    initiative = await session.scalar(
        select(Initiative).where(Initiative.id == initiative_id).with_for_update()
    )
    if initiative is None or access.workspace_role(initiative.workspace_id) is None:
        raise NotFound("Initiative", field="id")
    access.require_workspace(initiative.workspace_id, WorkspaceRole.EDITOR, field="id")
    return initiative


async def update_initiative(
    session: AsyncSession, access: Access, initiative_id: UUID, values: Mapping[str, Any]
) -> Initiative:
    initiative = await _editable(session, access, initiative_id)
    cleaned = _plain(values)
    await _check_links(session, initiative.workspace_id, cleaned)
    _move(initiative, cleaned, utcnow())
    before = _snapshot(initiative)
    for name, value in cleaned.items():
        setattr(initiative, name, value)
    initiative.priority = rice(
        initiative.reach, initiative.impact, initiative.confidence, initiative.effort
    )
    await session.flush()
    await audit.record(
        session,
        workspace_id=initiative.workspace_id,
        action="initiative.update",
        subject_type="Initiative",
        subject_id=initiative.id,
        changes=changes_of(before, _snapshot(initiative)),
    )
    return initiative


async def delete_initiative(session: AsyncSession, access: Access, initiative_id: UUID) -> UUID:
    initiative = await _editable(session, access, initiative_id)
    before = _snapshot(initiative)
    await session.delete(initiative)
    await session.flush()
    await audit.record(
        session,
        workspace_id=initiative.workspace_id,
        action="initiative.delete",
        subject_type="Initiative",
        subject_id=initiative_id,
        changes=changes_of(before, dict.fromkeys(before)),
    )
    return initiative_id


async def initiatives_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Initiative]:
    return (await session.scalars(select(Initiative).where(Initiative.id.in_(list(ids))))).all()


async def initiatives_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    status: InitiativeStatus | None,
    order: InitiativeOrder,
    first: int | None,
    after: str | None,
) -> Page[Initiative]:
    statement = select(Initiative).where(Initiative.workspace_id == workspace_id)
    if status is not None:
        statement = statement.where(Initiative.status == status)
    keys = (
        [Initiative.priority, Initiative.id]
        if order is InitiativeOrder.PRIORITY
        else [Initiative.updated_at, Initiative.id]
    )
    return await paginate(session, statement, keys=keys, first=first, after=after, descending=True)
