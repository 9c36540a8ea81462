"""A stage's touchpoints and how each persona feels there: add, change, move, remove.

Each change is a new version of the map (versioning.py), made under the map's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import NotFound, ValidationFailed
from backend.journeys.commands import (
    AddTouchpoint,
    MatchKeys,
    PersonaEmotion,
    TouchpointFields,
    UpdateTouchpoint,
)
from backend.journeys.positions import insert_at
from backend.journeys.repository import MapRepository, PersonaRepository, StructureRepository
from backend.journeys.versioning import audit_content_change, lock_for_change, new_version
from backend.models import JourneyMap, Touchpoint, TouchpointEmotion
from backend.patch import UNSET
from backend.validation import Checks, bounded_int, optional_text, required_text, text_list
from backend.vocabulary.journeys import Channel, Device, RevisionAction

# Customers a month a touchpoint may declare: more than any single journey sees.
MAX_TRAFFIC = 1_000_000_000

AUDITED = (
    "name",
    "description",
    "channel",
    "device",
    "customer_actions",
    "customer_goals",
    "questions",
    "emotion",
    "moment_of_truth",
    "traffic",
    "owning_department",
    "match_keys",
)


def _match_keys(keys: MatchKeys | None) -> dict[str, list[str]]:
    """Every kind of key, as a list (empty when not sent)."""
    given = keys or MatchKeys()
    return {
        "event_names": text_list(given.event_names, field="match_keys.event_names", max_items=200),
        "url_patterns": text_list(
            given.url_patterns, field="match_keys.url_patterns", max_items=200
        ),
        "survey_ids": text_list(given.survey_ids, field="match_keys.survey_ids", max_items=200),
    }


def _cleaned(fields: TouchpointFields) -> dict[str, object]:
    """The fields given, checked, by name (in declared order)."""
    cleaned: dict[str, object] = {}
    with Checks() as check:
        if fields.name is not UNSET:
            cleaned["name"] = check(required_text, fields.name, field="name", max_length=200)
        if fields.description is not UNSET:
            cleaned["description"] = check(optional_text, fields.description, field="description")
        if fields.channel is not UNSET:
            cleaned["channel"] = Channel(fields.channel) if fields.channel is not None else None
        if fields.device is not UNSET:
            cleaned["device"] = Device(fields.device) if fields.device is not None else None
        for name, values in (
            ("customer_actions", fields.customer_actions),
            ("customer_goals", fields.customer_goals),
            ("questions", fields.questions),
        ):
            if values is not UNSET:
                cleaned[name] = check(text_list, values, field=name)
        if fields.emotion is not UNSET:
            cleaned["emotion"] = check(bounded_int, fields.emotion, field="emotion", low=-2, high=2)
        if fields.moment_of_truth is not UNSET:
            cleaned["moment_of_truth"] = bool(fields.moment_of_truth)
        if fields.traffic is not UNSET:
            cleaned["traffic"] = check(
                bounded_int, fields.traffic, field="traffic", low=0, high=MAX_TRAFFIC
            )
        if fields.owning_department is not UNSET:
            cleaned["owning_department"] = check(
                optional_text, fields.owning_department, field="owning_department", max_length=120
            )
        if fields.match_keys is not UNSET:
            cleaned["match_keys"] = check(_match_keys, fields.match_keys)
    return cleaned


async def _replace_emotions(
    session: AsyncSession, touchpoint: Touchpoint, emotions: Sequence[PersonaEmotion]
) -> list[dict[str, object]]:
    """Replace the per-persona emotions; each persona must be on the map."""
    on_map = await MapRepository(session).persona_ids_on(touchpoint.journey_map_id)
    cleaned: list[dict[str, object]] = []
    rows: list[TouchpointEmotion] = []
    for index, emotion in enumerate(emotions):
        path = f"persona_emotions[{index}]"
        if emotion.persona_id not in on_map:
            # One the caller cannot see at all is NOT_FOUND, like any unknown id.
            persona = await PersonaRepository(session).get_in(
                touchpoint.workspace_id, emotion.persona_id
            )
            if persona is None:
                raise NotFound("Persona", field=f"{path}.persona_id")
            raise ValidationFailed("This persona is not on the map.", field=f"{path}.persona_id")
        current = bounded_int(emotion.current, field=f"{path}.current", low=-2, high=2)
        target = bounded_int(emotion.target, field=f"{path}.target", low=-2, high=2)
        cleaned.append({"persona_id": emotion.persona_id, "current": current, "target": target})
        rows.append(
            TouchpointEmotion(
                workspace_id=touchpoint.workspace_id,
                touchpoint_id=touchpoint.id,
                persona_id=emotion.persona_id,
                current=current,
                target=target,
            )
        )
    await StructureRepository(session).replace_emotions(touchpoint, rows)
    return cleaned


async def _touchpoint(repo: StructureRepository, touchpoint_id: UUID) -> Touchpoint:
    touchpoint = await repo.touchpoint(touchpoint_id)
    if touchpoint is None:
        raise NotFound("Touchpoint", field="id")
    return touchpoint


async def _held(repo: StructureRepository, touchpoint: Touchpoint) -> Touchpoint:
    """The touchpoint as the writer before us left it (its map is locked now)."""
    current = await repo.again(touchpoint)
    if current is None:
        raise NotFound("Touchpoint", field="id")
    return current


async def add_touchpoint(
    session: AsyncSession, access: Access, command: AddTouchpoint
) -> tuple[Touchpoint, JourneyMap]:
    repo = StructureRepository(session)
    stage = await repo.stage(command.stage_id)
    if stage is None:
        raise NotFound("Stage", field="stage_id")
    journey_map = await lock_for_change(
        session, access, stage.journey_map_id, command.expected_version, field="stage_id"
    )
    if command.fields.name is UNSET:
        raise ValidationFailed("Must not be null.", field="name")
    cleaned = _cleaned(command.fields)
    touchpoint = Touchpoint(
        workspace_id=stage.workspace_id,
        journey_map_id=stage.journey_map_id,
        stage_id=stage.id,
        position=-10_000,
        **cleaned,
    )
    siblings = await repo.touchpoints_in_order(stage.id)
    await repo.insert(touchpoint)
    await repo.renumber(insert_at(siblings, touchpoint, command.position, field="position"))
    if command.persona_emotions:
        await _replace_emotions(session, touchpoint, command.persona_emotions)
    await new_version(session, access, journey_map, RevisionAction.TOUCHPOINT_ADD)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.TOUCHPOINT_ADD,
        touchpoint,
        touchpoint.id,
        changes_of({}, {name: getattr(touchpoint, name) for name in AUDITED}),
    )
    return touchpoint, journey_map


async def update_touchpoint(
    session: AsyncSession, access: Access, command: UpdateTouchpoint
) -> tuple[Touchpoint, JourneyMap]:
    repo = StructureRepository(session)
    touchpoint = await _touchpoint(repo, command.touchpoint_id)
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, command.expected_version
    )
    touchpoint = await _held(repo, touchpoint)
    cleaned = _cleaned(command.fields)
    before = {name: getattr(touchpoint, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(touchpoint, name, value)
    after: dict[str, object] = dict(cleaned)
    if command.persona_emotions is not UNSET:
        after["persona_emotions"] = await _replace_emotions(
            session, touchpoint, command.persona_emotions
        )
    await new_version(session, access, journey_map, RevisionAction.TOUCHPOINT_UPDATE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.TOUCHPOINT_UPDATE,
        touchpoint,
        touchpoint.id,
        changes_of(before, after),
    )
    return touchpoint, journey_map


async def move_touchpoint(
    session: AsyncSession,
    access: Access,
    touchpoint_id: UUID,
    *,
    stage_id: UUID | None,
    position: int,
    expected_version: int | None,
) -> tuple[Touchpoint, JourneyMap]:
    """Move to any position, in its stage or another stage of the same map."""
    repo = StructureRepository(session)
    touchpoint = await _touchpoint(repo, touchpoint_id)
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version
    )
    touchpoint = await _held(repo, touchpoint)
    source = touchpoint.stage_id
    target = stage_id or source
    if target != source:
        stage = await repo.stage(target)
        if stage is None or stage.journey_map_id != journey_map.id:
            raise NotFound("Stage", field="stage_id")
    before = {"stage_id": source, "position": touchpoint.position}
    remaining = [t for t in await repo.touchpoints_in_order(source) if t.id != touchpoint.id]
    destination = remaining if target == source else await repo.touchpoints_in_order(target)
    if not 0 <= position <= len(destination):
        raise ValidationFailed(f"Must be between 0 and {len(destination)}.", field="position")
    if target != source:
        # Park it first: the source stage's renumbering must not collide with it.
        touchpoint.position = -10_000
        await repo.flush()
        await repo.renumber(remaining)
        touchpoint.stage_id = target
        await repo.flush()
    await repo.renumber(insert_at(destination, touchpoint, position, field="position"))
    await new_version(session, access, journey_map, RevisionAction.TOUCHPOINT_MOVE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.TOUCHPOINT_MOVE,
        touchpoint,
        touchpoint.id,
        changes_of(before, {"stage_id": target, "position": position}),
    )
    return touchpoint, journey_map


async def remove_touchpoint(
    session: AsyncSession, access: Access, touchpoint_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    """Remove a touchpoint and (by cascade) its pain points and opportunities."""
    repo = StructureRepository(session)
    touchpoint = await _touchpoint(repo, touchpoint_id)
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version
    )
    touchpoint = await _held(repo, touchpoint)
    before = {name: getattr(touchpoint, name) for name in AUDITED}
    stage_id = touchpoint.stage_id
    await repo.remove(touchpoint)
    await repo.renumber(await repo.touchpoints_in_order(stage_id))
    await new_version(session, access, journey_map, RevisionAction.TOUCHPOINT_REMOVE)
    await audit_content_change(
        session,
        journey_map,
        RevisionAction.TOUCHPOINT_REMOVE,
        touchpoint,
        touchpoint_id,
        changes_of(before, dict.fromkeys(before)),
    )
    return journey_map
