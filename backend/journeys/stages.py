"""A map's stages: add, change, move and remove them, each a new version of the map.

Every change locks the map first (versioning.lock_for_change), so positions stay dense
and unique however many people edit at once.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import NotFound, ValidationFailed
from backend.journeys.commands import AddStage, StageFields, UpdateStage
from backend.journeys.positions import insert_at
from backend.journeys.repository import StructureRepository
from backend.journeys.versioning import audit_content_change, lock_for_change, new_version
from backend.models import JourneyMap, Stage
from backend.patch import UNSET
from backend.validation import Checks, optional_text, required_text, text_list
from backend.vocabulary.journeys import RevisionAction


def _cleaned(fields: StageFields) -> dict[str, object]:
    """The fields given, checked, by name (in declared order)."""
    cleaned: dict[str, object] = {}
    with Checks() as check:
        if fields.name is not UNSET:
            cleaned["name"] = check(required_text, fields.name, field="name", max_length=120)
        if fields.description is not UNSET:
            cleaned["description"] = check(optional_text, fields.description, field="description")
        if fields.customer_goals is not UNSET:
            cleaned["customer_goals"] = check(
                text_list, fields.customer_goals, field="customer_goals"
            )
        if fields.questions is not UNSET:
            cleaned["questions"] = check(text_list, fields.questions, field="questions")
    return cleaned


def _audited(stage: Stage) -> dict[str, object]:
    return {
        "name": stage.name,
        "description": stage.description,
        "customer_goals": stage.customer_goals,
        "questions": stage.questions,
    }


async def _stage(repo: StructureRepository, stage_id: UUID, *, field: str) -> Stage:
    stage = await repo.stage(stage_id)
    if stage is None:
        raise NotFound("Stage", field=field)
    return stage


async def _held(repo: StructureRepository, stage: Stage) -> Stage:
    """The stage as the writer before us left it (its map is locked now)."""
    current = await repo.again(stage)
    if current is None:
        raise NotFound("Stage", field="id")
    return current


async def add_stage(
    session: AsyncSession, access: Access, command: AddStage
) -> tuple[Stage, JourneyMap]:
    journey_map = await lock_for_change(
        session, access, command.map_id, command.expected_version, field="journey_map_id"
    )
    if command.fields.name is UNSET:
        raise ValidationFailed("Must not be null.", field="name")
    cleaned = _cleaned(command.fields)
    repo = StructureRepository(session)
    stage = Stage(
        workspace_id=journey_map.workspace_id,
        journey_map_id=journey_map.id,
        position=-10_000,
        **cleaned,
    )
    siblings = await repo.stages_in_order(journey_map.id)
    await repo.insert(stage)
    await repo.renumber(insert_at(siblings, stage, command.position, field="position"))
    await new_version(session, access, journey_map, RevisionAction.STAGE_ADD)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.STAGE_ADD,
        stage,
        stage.id,
        changes_of({}, _audited(stage)),
    )
    return stage, journey_map


async def update_stage(
    session: AsyncSession, access: Access, command: UpdateStage
) -> tuple[Stage, JourneyMap]:
    repo = StructureRepository(session)
    stage = await _stage(repo, command.stage_id, field="id")
    journey_map = await lock_for_change(
        session, access, stage.journey_map_id, command.expected_version
    )
    stage = await _held(repo, stage)
    cleaned = _cleaned(command.fields)
    before = {name: getattr(stage, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(stage, name, value)
    await new_version(session, access, journey_map, RevisionAction.STAGE_UPDATE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.STAGE_UPDATE,
        stage,
        stage.id,
        changes_of(before, cleaned),
    )
    return stage, journey_map


async def move_stage(
    session: AsyncSession,
    access: Access,
    stage_id: UUID,
    *,
    position: int,
    expected_version: int | None,
) -> tuple[Stage, JourneyMap]:
    repo = StructureRepository(session)
    stage = await _stage(repo, stage_id, field="id")
    journey_map = await lock_for_change(session, access, stage.journey_map_id, expected_version)
    stage = await _held(repo, stage)
    siblings = [s for s in await repo.stages_in_order(journey_map.id) if s.id != stage.id]
    before = stage.position
    await repo.renumber(insert_at(siblings, stage, position, field="position"))
    await new_version(session, access, journey_map, RevisionAction.STAGE_MOVE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.STAGE_MOVE,
        stage,
        stage.id,
        changes_of({"position": before}, {"position": position}),
    )
    return stage, journey_map


async def remove_stage(
    session: AsyncSession, access: Access, stage_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    """Remove a stage and (by cascade) everything on it."""
    repo = StructureRepository(session)
    stage = await _stage(repo, stage_id, field="id")
    journey_map = await lock_for_change(session, access, stage.journey_map_id, expected_version)
    stage = await _held(repo, stage)
    before = _audited(stage)
    await repo.remove(stage)
    await repo.renumber(await repo.stages_in_order(journey_map.id))
    await new_version(session, access, journey_map, RevisionAction.STAGE_REMOVE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.STAGE_REMOVE,
        stage,
        stage_id,
        changes_of(before, dict.fromkeys(before)),
    )
    return journey_map
