"""Initiatives: create, update (the status only along allowed moves), delete, list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypedDict
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.initiatives import repository
from backend.initiatives.commands import CreateInitiative, UpdateInitiative
from backend.models import Initiative
from backend.patch import UNSET
from backend.validation import (
    Checks,
    bounded_float,
    bounded_int,
    instant,
    optional_text,
    required_text,
)
from backend.vocabulary.audit import AuditAction
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
SHIPPED = frozenset({InitiativeStatus.SHIPPED, InitiativeStatus.DONE})
MAX_LINKS = 200


class Changes(TypedDict, total=False):
    """An initiative's columns as a command sets them, checked."""

    title: str
    description: str
    status: InitiativeStatus
    owner_id: UUID | None
    department: str
    impact: int
    effort: int
    confidence: float
    reach: int
    touchpoint_ids: list[str]
    pain_point_ids: list[str]
    target_metric_id: UUID | None
    baseline: float | None
    target: float | None
    shipped_at: datetime | None


def rice(reach: int, impact: int, confidence: float, effort: int) -> float:
    """RICE priority: reach x impact x confidence / effort."""
    return reach * impact * confidence / effort


def _snapshot(initiative: Initiative) -> dict[str, object]:
    return {name: getattr(initiative, name) for name in (*FIELDS, "priority")}


def _int(value: int, field: str, high: int, low: int = 1) -> int:
    checked = bounded_int(value, field=field, low=low, high=high)
    assert checked is not None  # not None in, not None out
    return checked


def _checked(command: CreateInitiative | UpdateInitiative) -> Changes:
    """The plain fields the command sets, checked in the order the input lists them; every
    failure is reported at once."""
    c = command
    changes = Changes()
    with Checks() as check:
        if c.title is not UNSET:
            changes["title"] = check(required_text, c.title, field="title", max_length=200)
        if c.description is not UNSET:
            changes["description"] = check(
                optional_text, c.description, field="description", max_length=10_000
            )
        if c.status is not UNSET:
            changes["status"] = InitiativeStatus(c.status)
        if c.department is not UNSET:
            changes["department"] = check(
                optional_text, c.department, field="department", max_length=120
            )
        if c.impact is not UNSET:
            changes["impact"] = check(_int, c.impact, "impact", 5)
        if c.effort is not UNSET:
            changes["effort"] = check(_int, c.effort, "effort", 5)
        if c.confidence is not UNSET:
            confidence = check(bounded_float, c.confidence, field="confidence", low=0, high=1)
            # None only when the check failed: the block raises then.
            changes["confidence"] = confidence if confidence is not None else 0.0
        if c.reach is not UNSET:
            changes["reach"] = check(_int, c.reach, "reach", 10**9, low=0)
        if c.baseline is not UNSET:
            changes["baseline"] = check(
                bounded_float, c.baseline, field="baseline", low=-1e15, high=1e15
            )
        if c.target is not UNSET:
            changes["target"] = check(bounded_float, c.target, field="target", low=-1e15, high=1e15)
        if c.shipped_at is not UNSET:
            shipped_at = c.shipped_at
            changes["shipped_at"] = (
                check(instant, shipped_at, field="shipped_at") if shipped_at is not None else None
            )
    return changes


async def _check_links(
    session: AsyncSession,
    workspace_id: UUID,
    command: CreateInitiative | UpdateInitiative,
    changes: Changes,
) -> None:
    """Every id must name something live in this workspace; the error names which."""
    if command.touchpoint_ids is not UNSET:
        unique = _unique(command.touchpoint_ids, "touchpoint_ids")
        found = await repository.live_touchpoints(session, workspace_id, unique)
        changes["touchpoint_ids"] = _all_found(unique, found, "Touchpoint", "touchpoint_ids")
    if command.pain_point_ids is not UNSET:
        unique = _unique(command.pain_point_ids, "pain_point_ids")
        found = await repository.pain_points(session, workspace_id, unique)
        # "Painpoint": the message the API has always given.
        changes["pain_point_ids"] = _all_found(unique, found, "Painpoint", "pain_point_ids")
    if command.target_metric_id is not UNSET:
        metric_id = command.target_metric_id
        if metric_id is not None and not await repository.metric_exists(
            session, workspace_id, metric_id
        ):
            raise NotFound("Metric", field="target_metric_id")
        changes["target_metric_id"] = metric_id
    if command.owner_id is not UNSET:
        owner = command.owner_id
        if owner is not None and not await _can_own(session, workspace_id, owner):
            # Not a possible owner here: someone outside the workspace is not to be found.
            raise NotFound("User", field="owner_id")
        changes["owner_id"] = owner


def _unique(ids: Sequence[UUID], field: str) -> list[UUID]:
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_LINKS:
        raise ValidationFailed(f"At most {MAX_LINKS}.", field=field)
    return unique


def _all_found(unique: list[UUID], found: set[UUID], what: str, field: str) -> list[str]:
    for index, wanted in enumerate(unique):
        if wanted not in found:
            raise NotFound(what, field=f"{field}[{index}]")
    return [str(i) for i in unique]


async def _can_own(session: AsyncSession, workspace_id: UUID, user_id: UUID) -> bool:
    """A member of the workspace, or an admin (or more) of its organization."""
    if await repository.is_workspace_member(session, workspace_id, user_id):
        return True
    role = await repository.organization_role(session, workspace_id, user_id)
    return role is not None and OrgRole(role).at_least(OrgRole.ADMIN)


def _move(initiative: Initiative | None, changes: Changes, now: datetime) -> None:
    """Apply the status workflow; SHIPPED stamps shipped_at unless one is given."""
    current = initiative.status if initiative else None
    wanted = changes.get("status", current or InitiativeStatus.IDEA)
    if current is not None and wanted != current and wanted not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        raise ValidationFailed(
            f"Cannot go from {current} to {wanted}; from {current}: {allowed}.", field="status"
        )
    shipped_at = changes.get("shipped_at", initiative.shipped_at if initiative else None)
    if wanted in SHIPPED:
        if shipped_at is None:
            shipped_at = now
        if shipped_at > now:
            raise ValidationFailed("Must not be in the future.", field="shipped_at")
    elif changes.get("shipped_at") is not None:
        raise ValidationFailed("Only a SHIPPED or DONE initiative has one.", field="shipped_at")
    else:
        shipped_at = None  # back in progress: it ships again later
    changes["status"] = wanted
    changes["shipped_at"] = shipped_at


async def create_initiative(
    session: AsyncSession, access: Access, command: CreateInitiative
) -> Initiative:
    workspace_id = command.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspace_id")
    changes = _checked(command)
    await _check_links(session, workspace_id, command, changes)
    _move(None, changes, utcnow())
    initiative = Initiative(workspace_id=workspace_id, created_by=access.user_id, **changes)
    initiative.priority = rice(
        initiative.reach, initiative.impact, initiative.confidence, initiative.effort
    )
    await repository.save(session, initiative)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.INITIATIVE_CREATE,
        subject_type="Initiative",
        subject_id=initiative.id,
        changes=changes_of({}, _snapshot(initiative)),
    )
    return initiative


async def _editable(session: AsyncSession, access: Access, initiative_id: UUID) -> Initiative:
    initiative = await repository.for_update(session, initiative_id)
    if initiative is None or access.workspace_role(initiative.workspace_id) is None:
        raise NotFound("Initiative", field="id")
    access.require_workspace(initiative.workspace_id, WorkspaceRole.EDITOR, field="id")
    return initiative


async def update_initiative(
    session: AsyncSession, access: Access, command: UpdateInitiative
) -> Initiative:
    initiative = await _editable(session, access, command.initiative_id)
    changes = _checked(command)
    await _check_links(session, initiative.workspace_id, command, changes)
    _move(initiative, changes, utcnow())
    before = _snapshot(initiative)
    for name, value in changes.items():
        setattr(initiative, name, value)
    initiative.priority = rice(
        initiative.reach, initiative.impact, initiative.confidence, initiative.effort
    )
    await repository.save(session, initiative)
    await audit.record(
        session,
        workspace_id=initiative.workspace_id,
        action=AuditAction.INITIATIVE_UPDATE,
        subject_type="Initiative",
        subject_id=initiative.id,
        changes=changes_of(before, _snapshot(initiative)),
    )
    return initiative


async def delete_initiative(session: AsyncSession, access: Access, initiative_id: UUID) -> UUID:
    initiative = await _editable(session, access, initiative_id)
    before = _snapshot(initiative)
    await repository.delete(session, initiative)
    await audit.record(
        session,
        workspace_id=initiative.workspace_id,
        action=AuditAction.INITIATIVE_DELETE,
        subject_type="Initiative",
        subject_id=initiative_id,
        changes=changes_of(before, dict.fromkeys(before)),
    )
    return initiative_id


async def initiatives_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[Initiative]:
    return await repository.initiatives_by_ids(session, ids)


async def initiatives_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    status: InitiativeStatus | None,
    order: InitiativeOrder,
    page: PageRequest,
) -> Page[Initiative]:
    return await repository.initiatives_page(
        session, workspace_id, status=status, order=order, page=page
    )
