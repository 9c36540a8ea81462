"""What a touchpoint is found to need: its pain points and the opportunities they open.

Each change, a removal too, is a new version of the touchpoint's map (versioning.py): a
removed one comes back with a restored revision.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import NotFound, ValidationFailed
from backend.journeys.commands import (
    AddOpportunity,
    AddPainPoint,
    OpportunityFields,
    PainPointFields,
    UpdateOpportunity,
    UpdatePainPoint,
)
from backend.journeys.repository import StructureRepository
from backend.journeys.versioning import audit_content_change, lock_for_change, new_version
from backend.models import JourneyMap, Opportunity, PainPoint, Touchpoint
from backend.patch import UNSET, Maybe
from backend.validation import optional_text, required_text
from backend.vocabulary.journeys import OpportunityStatus, PainPointStatus, RevisionAction, Severity


def _text(title: Maybe[str], description: Maybe[str | None]) -> dict[str, object]:
    """Title and description, as far as given, checked."""
    cleaned: dict[str, object] = {}
    if title is not UNSET:
        cleaned["title"] = required_text(title, field="title", max_length=200)
    if description is not UNSET:
        cleaned["description"] = optional_text(description, field="description")
    return cleaned


def _pain_point_fields(fields: PainPointFields) -> dict[str, object]:
    cleaned = _text(fields.title, fields.description)
    if fields.severity is not UNSET:
        cleaned["severity"] = Severity(fields.severity)
    if fields.status is not UNSET:
        cleaned["status"] = PainPointStatus(fields.status)
    return cleaned


def _opportunity_fields(fields: OpportunityFields) -> dict[str, object]:
    cleaned = _text(fields.title, fields.description)
    if fields.status is not UNSET:
        cleaned["status"] = OpportunityStatus(fields.status)
    return cleaned


async def _touchpoint(repo: StructureRepository, touchpoint_id: UUID, *, field: str) -> Touchpoint:
    touchpoint = await repo.touchpoint(touchpoint_id)
    if touchpoint is None:
        raise NotFound("Touchpoint", field=field)
    return touchpoint


async def _locked_map_of(
    session: AsyncSession,
    access: Access,
    touchpoint: Touchpoint,
    expected_version: int | None,
    *,
    field: str,
) -> JourneyMap:
    return await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version, field=field
    )


async def add_pain_point(
    session: AsyncSession, access: Access, command: AddPainPoint
) -> tuple[PainPoint, JourneyMap]:
    repo = StructureRepository(session)
    touchpoint = await _touchpoint(repo, command.touchpoint_id, field="touchpoint_id")
    journey_map = await _locked_map_of(
        session, access, touchpoint, command.expected_version, field="touchpoint_id"
    )
    for name in ("title", "severity"):
        if getattr(command.fields, name) is UNSET:
            raise ValidationFailed("Must not be null.", field=name)
    cleaned = _pain_point_fields(command.fields)
    cleaned["status"] = cleaned.get("status") or PainPointStatus.OPEN
    pain = PainPoint(workspace_id=touchpoint.workspace_id, touchpoint_id=touchpoint.id, **cleaned)
    await repo.insert(pain)
    await new_version(session, access, journey_map, RevisionAction.PAIN_POINT_ADD)
    await audit_content_change(
        session, journey_map, RevisionAction.PAIN_POINT_ADD, pain, pain.id, changes_of({}, cleaned)
    )
    return pain, journey_map


async def update_pain_point(
    session: AsyncSession, access: Access, command: UpdatePainPoint
) -> tuple[PainPoint, JourneyMap]:
    """Change a pain point (resolve it, say): a new version of its map."""
    repo = StructureRepository(session)
    pain = await repo.pain_point(command.pain_point_id)
    if pain is None:
        raise NotFound("Pain point", field="id")
    touchpoint = await _touchpoint(repo, pain.touchpoint_id, field="id")
    journey_map = await _locked_map_of(
        session, access, touchpoint, command.expected_version, field="id"
    )
    pain = await repo.again(pain)
    if pain is None:  # removed by the writer before us
        raise NotFound("Pain point", field="id")
    cleaned = _pain_point_fields(command.fields)
    before = {name: getattr(pain, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(pain, name, value)
    await new_version(session, access, journey_map, RevisionAction.PAIN_POINT_UPDATE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.PAIN_POINT_UPDATE,
        pain,
        pain.id,
        changes_of(before, cleaned),
    )
    return pain, journey_map


async def add_opportunity(
    session: AsyncSession, access: Access, command: AddOpportunity
) -> tuple[Opportunity, JourneyMap]:
    repo = StructureRepository(session)
    touchpoint = await _touchpoint(repo, command.touchpoint_id, field="touchpoint_id")
    journey_map = await _locked_map_of(
        session, access, touchpoint, command.expected_version, field="touchpoint_id"
    )
    if command.fields.title is UNSET:
        raise ValidationFailed("Must not be null.", field="title")
    cleaned = _opportunity_fields(command.fields)
    if command.pain_point_id is not None:
        cleaned["pain_point_id"] = command.pain_point_id
    cleaned["status"] = cleaned.get("status") or OpportunityStatus.OPEN
    if command.pain_point_id is not None:
        pain = await repo.pain_point(command.pain_point_id)
        if pain is None or pain.touchpoint_id != touchpoint.id:
            raise NotFound("Pain point", field="pain_point_id")
    idea = Opportunity(workspace_id=touchpoint.workspace_id, touchpoint_id=touchpoint.id, **cleaned)
    await repo.insert(idea)
    await new_version(session, access, journey_map, RevisionAction.OPPORTUNITY_ADD)
    await audit_content_change(
        session, journey_map, RevisionAction.OPPORTUNITY_ADD, idea, idea.id, changes_of({}, cleaned)
    )
    return idea, journey_map


async def update_opportunity(
    session: AsyncSession, access: Access, command: UpdateOpportunity
) -> tuple[Opportunity, JourneyMap]:
    """Change an opportunity (plan it, say): a new version of its map."""
    repo = StructureRepository(session)
    idea = await repo.opportunity(command.opportunity_id)
    if idea is None:
        raise NotFound("Opportunity", field="id")
    touchpoint = await _touchpoint(repo, idea.touchpoint_id, field="id")
    journey_map = await _locked_map_of(
        session, access, touchpoint, command.expected_version, field="id"
    )
    idea = await repo.again(idea)
    if idea is None:  # removed by the writer before us
        raise NotFound("Opportunity", field="id")
    cleaned = _opportunity_fields(command.fields)
    before = {name: getattr(idea, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(idea, name, value)
    await new_version(session, access, journey_map, RevisionAction.OPPORTUNITY_UPDATE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.OPPORTUNITY_UPDATE,
        idea,
        idea.id,
        changes_of(before, cleaned),
    )
    return idea, journey_map


_Finding = TypeVar("_Finding", PainPoint, Opportunity)


async def _locked_for_removal(
    session: AsyncSession,
    access: Access,
    found: _Finding | None,
    what: str,
    expected_version: int | None,
) -> tuple[_Finding, JourneyMap]:
    """A pain point or opportunity to remove, read again once its map is locked (the
    writer before us may have removed it), and the map."""
    repo = StructureRepository(session)
    if found is None:
        raise NotFound(what, field="id")
    touchpoint = await _touchpoint(repo, found.touchpoint_id, field="id")
    journey_map = await _locked_map_of(session, access, touchpoint, expected_version, field="id")
    again = await repo.again(found)
    if again is None:
        raise NotFound(what, field="id")
    return again, journey_map


async def remove_pain_point(
    session: AsyncSession, access: Access, pain_point_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    """Remove a pain point; opportunities it opened stay, answering none."""
    repo = StructureRepository(session)
    pain, journey_map = await _locked_for_removal(
        session, access, await repo.pain_point(pain_point_id), "Pain point", expected_version
    )
    before: dict[str, object] = {name: getattr(pain, name) for name in _PAIN_POINT_AUDITED}
    unlinked = await repo.unlink_opportunities(pain)
    await repo.remove(pain)
    await new_version(session, access, journey_map, RevisionAction.PAIN_POINT_REMOVE)
    changes = changes_of(before, dict.fromkeys(before))
    if unlinked:
        changes["unlinked_opportunity_ids"] = {
            "before": sorted(str(i) for i in unlinked),
            "after": None,
        }
    await audit_content_change(
        session, journey_map, RevisionAction.PAIN_POINT_REMOVE, pain, pain_point_id, changes
    )
    return journey_map


async def remove_opportunity(
    session: AsyncSession, access: Access, opportunity_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    repo = StructureRepository(session)
    idea, journey_map = await _locked_for_removal(
        session, access, await repo.opportunity(opportunity_id), "Opportunity", expected_version
    )
    before: dict[str, object] = {name: getattr(idea, name) for name in _OPPORTUNITY_AUDITED}
    await repo.remove(idea)
    await new_version(session, access, journey_map, RevisionAction.OPPORTUNITY_REMOVE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.OPPORTUNITY_REMOVE,
        idea,
        opportunity_id,
        changes_of(before, dict.fromkeys(before)),
    )
    return journey_map


# What a removal's audit event keeps of the row (its changes, to null).
_PAIN_POINT_AUDITED = ("title", "description", "severity", "status")
_OPPORTUNITY_AUDITED = ("title", "description", "status", "pain_point_id")
