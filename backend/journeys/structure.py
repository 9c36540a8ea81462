"""Inside a map: stages, touchpoints, per-persona emotions, pain points, opportunities.

Every change locks the map (``maps.lock_for_change``), so positions stay dense
and unique and the map's version moves by exactly one per change, however many
people edit at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import NotFound, ValidationFailed
from backend.journeys.maps import _new_version, lock_for_change
from backend.models import (
    JourneyMap,
    JourneyMapPersona,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.validation import bounded_int, optional_text, required_text, text_list
from backend.vocabulary.journeys import (
    Channel,
    Device,
    OpportunityStatus,
    PainPointStatus,
    Severity,
)

STAGE_FIELDS = ("name", "description", "customer_goals", "questions")
TOUCHPOINT_FIELDS = (
    "name",
    "description",
    "channel",
    "device",
    "customer_actions",
    "customer_goals",
    "questions",
    "emotion",
    "moment_of_truth",
    "owning_department",
    "match_keys",
)
PAIN_POINT_FIELDS = ("title", "description", "severity", "status")
OPPORTUNITY_FIELDS = ("title", "description", "status", "pain_point_id")
MATCH_KEY_KINDS = ("event_names", "url_patterns", "survey_ids")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        field = _camel(name)
        if name in ("name", "title"):
            cleaned[name] = required_text(value, field=field, max_length=200)
        elif name in ("description",):
            cleaned[name] = optional_text(value, field=field)
        elif name == "owning_department":
            cleaned[name] = optional_text(value, field=field, max_length=120)
        elif name in ("customer_goals", "questions", "customer_actions"):
            cleaned[name] = text_list(value, field=field)
        elif name == "channel":
            cleaned[name] = Channel(value) if value is not None else None
        elif name == "device":
            cleaned[name] = Device(value) if value is not None else None
        elif name == "emotion":
            cleaned[name] = bounded_int(value, field=field, low=-2, high=2)
        elif name == "moment_of_truth":
            cleaned[name] = bool(value)
        elif name == "match_keys":
            cleaned[name] = {
                kind: text_list(
                    (value or {}).get(kind), field=f"matchKeys.{_camel(kind)}", max_items=200
                )
                for kind in MATCH_KEY_KINDS
            }
        elif name == "severity":
            cleaned[name] = Severity(value)
        elif name == "status" or name == "pain_point_id":
            cleaned[name] = value
        else:
            raise ValueError(f"unknown field {name}")
    return cleaned


def _row(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


async def _renumber(session: AsyncSession, rows: Sequence[Stage | Touchpoint]) -> None:
    """Give ``rows`` positions 0..n-1 in list order without ever colliding.

    Positions are unique per parent: first park every row on a negative
    position, then set the final ones.
    """
    for index, row in enumerate(rows):
        row.position = -1 - index
    await session.flush()
    for index, row in enumerate(rows):
        row.position = index
    await session.flush()


def _insert_at(items: list[Any], item: Any, position: int | None, *, field: str) -> list[Any]:
    if position is None:
        position = len(items)
    if not 0 <= position <= len(items):
        raise ValidationFailed(f"Must be between 0 and {len(items)}.", field=field)
    return [*items[:position], item, *items[position:]]


async def _stages(session: AsyncSession, map_id: UUID) -> list[Stage]:
    return list(
        (
            await session.scalars(
                select(Stage).where(Stage.journey_map_id == map_id).order_by(Stage.position)
            )
        ).all()
    )


async def _touchpoints(session: AsyncSession, stage_id: UUID) -> list[Touchpoint]:
    return list(
        (
            await session.scalars(
                select(Touchpoint)
                .where(Touchpoint.stage_id == stage_id)
                .order_by(Touchpoint.position)
            )
        ).all()
    )


async def _find(session: AsyncSession, model: Any, object_id: UUID, what: str, field: str) -> Any:
    found = await session.scalar(select(model).where(model.id == object_id))
    if found is None:
        raise NotFound(what, field=field)
    return found


async def _audit(
    session: AsyncSession,
    journey_map: JourneyMap,
    action: str,
    subject: Any,
    changes: dict[str, Any],
) -> None:
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action=action,
        subject_type=type(subject).__name__,
        subject_id=subject.id,
        changes={"journey_map_id": str(journey_map.id), "version": journey_map.version, **changes},
    )


# Stages -------------------------------------------------------------------------------
async def add_stage(
    session: AsyncSession,
    access: Access,
    map_id: UUID,
    values: Mapping[str, Any],
    *,
    position: int | None,
    expected_version: int | None,
) -> tuple[Stage, JourneyMap]:
    journey_map = await lock_for_change(
        session, access, map_id, expected_version, field="journeyMapId"
    )
    cleaned = _clean(values)
    stage = Stage(
        workspace_id=journey_map.workspace_id, journey_map_id=map_id, position=-10_000, **cleaned
    )
    siblings = await _stages(session, map_id)
    session.add(stage)
    await session.flush()
    await _renumber(session, _insert_at(siblings, stage, position, field="position"))
    await _new_version(session, access, journey_map, "stage.add")
    await _audit(
        session, journey_map, "stage.add", stage, changes_of({}, _row(stage, STAGE_FIELDS))
    )
    return stage, journey_map


async def update_stage(
    session: AsyncSession,
    access: Access,
    stage_id: UUID,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> tuple[Stage, JourneyMap]:
    stage = await _find(session, Stage, stage_id, "Stage", "id")
    journey_map = await lock_for_change(session, access, stage.journey_map_id, expected_version)
    cleaned = _clean(values)
    before = _row(stage, list(cleaned))
    for name, value in cleaned.items():
        setattr(stage, name, value)
    await _new_version(session, access, journey_map, "stage.update")
    await _audit(session, journey_map, "stage.update", stage, changes_of(before, cleaned))
    return stage, journey_map


async def move_stage(
    session: AsyncSession,
    access: Access,
    stage_id: UUID,
    *,
    position: int,
    expected_version: int | None,
) -> tuple[Stage, JourneyMap]:
    stage = await _find(session, Stage, stage_id, "Stage", "id")
    journey_map = await lock_for_change(session, access, stage.journey_map_id, expected_version)
    siblings = [s for s in await _stages(session, journey_map.id) if s.id != stage.id]
    before = stage.position
    if not 0 <= position <= len(siblings):
        raise ValidationFailed(f"Must be between 0 and {len(siblings)}.", field="position")
    await _renumber(session, _insert_at(siblings, stage, position, field="position"))
    await _new_version(session, access, journey_map, "stage.move")
    await _audit(
        session,
        journey_map,
        "stage.move",
        stage,
        changes_of({"position": before}, {"position": position}),
    )
    return stage, journey_map


async def remove_stage(
    session: AsyncSession, access: Access, stage_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    stage = await _find(session, Stage, stage_id, "Stage", "id")
    journey_map = await lock_for_change(session, access, stage.journey_map_id, expected_version)
    before = _row(stage, STAGE_FIELDS)
    await session.delete(stage)
    await session.flush()
    await _renumber(session, await _stages(session, journey_map.id))
    await _new_version(session, access, journey_map, "stage.remove")
    await _audit(
        session, journey_map, "stage.remove", stage, changes_of(before, dict.fromkeys(before))
    )
    return journey_map


# Touchpoints ----------------------------------------------------------------------------
async def _persona_emotions(
    session: AsyncSession, touchpoint: Touchpoint, emotions: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Replace the per-persona emotions; each persona must be on the map."""
    on_map = set(
        (
            await session.scalars(
                select(JourneyMapPersona.persona_id).where(
                    JourneyMapPersona.journey_map_id == touchpoint.journey_map_id
                )
            )
        ).all()
    )
    cleaned: list[dict[str, Any]] = []
    for index, emotion in enumerate(emotions):
        field = f"personaEmotions[{index}]"
        if emotion["persona_id"] not in on_map:
            # One the caller cannot see at all is NOT_FOUND, like any unknown id.
            if await session.get(Persona, (touchpoint.workspace_id, emotion["persona_id"])) is None:
                raise NotFound("Persona", field=f"{field}.personaId")
            raise ValidationFailed("This persona is not on the map.", field=f"{field}.personaId")
        cleaned.append(
            {
                "persona_id": emotion["persona_id"],
                "current": bounded_int(
                    emotion.get("current"), field=f"{field}.current", low=-2, high=2
                ),
                "target": bounded_int(
                    emotion.get("target"), field=f"{field}.target", low=-2, high=2
                ),
            }
        )
    for old in (
        await session.scalars(
            select(TouchpointEmotion).where(TouchpointEmotion.touchpoint_id == touchpoint.id)
        )
    ).all():
        await session.delete(old)
    await session.flush()
    for emotion in cleaned:
        session.add(
            TouchpointEmotion(
                workspace_id=touchpoint.workspace_id, touchpoint_id=touchpoint.id, **emotion
            )
        )
    return cleaned


async def add_touchpoint(
    session: AsyncSession,
    access: Access,
    stage_id: UUID,
    values: Mapping[str, Any],
    *,
    position: int | None,
    persona_emotions: Sequence[Mapping[str, Any]] | None,
    expected_version: int | None,
) -> tuple[Touchpoint, JourneyMap]:
    stage = await _find(session, Stage, stage_id, "Stage", "stageId")
    journey_map = await lock_for_change(
        session, access, stage.journey_map_id, expected_version, field="stageId"
    )
    cleaned = _clean(values)
    touchpoint = Touchpoint(
        workspace_id=stage.workspace_id,
        journey_map_id=stage.journey_map_id,
        stage_id=stage.id,
        position=-10_000,
        **cleaned,
    )
    siblings = await _touchpoints(session, stage.id)
    session.add(touchpoint)
    await session.flush()
    await _renumber(session, _insert_at(siblings, touchpoint, position, field="position"))
    if persona_emotions:
        await _persona_emotions(session, touchpoint, persona_emotions)
    await _new_version(session, access, journey_map, "touchpoint.add")
    await _audit(
        session,
        journey_map,
        "touchpoint.add",
        touchpoint,
        changes_of({}, _row(touchpoint, TOUCHPOINT_FIELDS)),
    )
    return touchpoint, journey_map


async def update_touchpoint(
    session: AsyncSession,
    access: Access,
    touchpoint_id: UUID,
    values: Mapping[str, Any],
    *,
    persona_emotions: Sequence[Mapping[str, Any]] | None,
    expected_version: int | None,
) -> tuple[Touchpoint, JourneyMap]:
    touchpoint = await _find(session, Touchpoint, touchpoint_id, "Touchpoint", "id")
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version
    )
    cleaned = _clean(values)
    before = _row(touchpoint, list(cleaned))
    for name, value in cleaned.items():
        setattr(touchpoint, name, value)
    after: dict[str, Any] = dict(cleaned)
    if persona_emotions is not None:
        after["persona_emotions"] = await _persona_emotions(session, touchpoint, persona_emotions)
    await _new_version(session, access, journey_map, "touchpoint.update")
    await _audit(session, journey_map, "touchpoint.update", touchpoint, changes_of(before, after))
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
    touchpoint = await _find(session, Touchpoint, touchpoint_id, "Touchpoint", "id")
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version
    )
    source = touchpoint.stage_id
    target = stage_id or source
    if target != source:
        stage = await session.scalar(select(Stage).where(Stage.id == target))
        if stage is None or stage.journey_map_id != journey_map.id:
            raise NotFound("Stage", field="stageId")
    before = {"stage_id": source, "position": touchpoint.position}
    remaining = [t for t in await _touchpoints(session, source) if t.id != touchpoint.id]
    destination = remaining if target == source else await _touchpoints(session, target)
    if not 0 <= position <= len(destination):
        raise ValidationFailed(f"Must be between 0 and {len(destination)}.", field="position")
    if target != source:
        # Park it first: the source stage's renumbering must not collide with it.
        touchpoint.position = -10_000
        await session.flush()
        await _renumber(session, remaining)
        touchpoint.stage_id = target
        await session.flush()
    await _renumber(session, _insert_at(destination, touchpoint, position, field="position"))
    await _new_version(session, access, journey_map, "touchpoint.move")
    await _audit(
        session,
        journey_map,
        "touchpoint.move",
        touchpoint,
        changes_of(before, {"stage_id": target, "position": position}),
    )
    return touchpoint, journey_map


async def remove_touchpoint(
    session: AsyncSession, access: Access, touchpoint_id: UUID, *, expected_version: int | None
) -> JourneyMap:
    touchpoint = await _find(session, Touchpoint, touchpoint_id, "Touchpoint", "id")
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version
    )
    before = _row(touchpoint, TOUCHPOINT_FIELDS)
    stage_id = touchpoint.stage_id
    await session.delete(touchpoint)
    await session.flush()
    await _renumber(session, await _touchpoints(session, stage_id))
    await _new_version(session, access, journey_map, "touchpoint.remove")
    await _audit(
        session,
        journey_map,
        "touchpoint.remove",
        touchpoint,
        changes_of(before, dict.fromkeys(before)),
    )
    return journey_map


# Pain points and opportunities --------------------------------------------------------
async def add_pain_point(
    session: AsyncSession,
    access: Access,
    touchpoint_id: UUID,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> tuple[PainPoint, JourneyMap]:
    touchpoint = await _find(session, Touchpoint, touchpoint_id, "Touchpoint", "touchpointId")
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version, field="touchpointId"
    )
    cleaned = _clean(values)
    cleaned["status"] = PainPointStatus(cleaned.get("status") or PainPointStatus.OPEN)
    pain = PainPoint(workspace_id=touchpoint.workspace_id, touchpoint_id=touchpoint.id, **cleaned)
    session.add(pain)
    await session.flush()
    await _new_version(session, access, journey_map, "pain_point.add")
    await _audit(session, journey_map, "pain_point.add", pain, changes_of({}, cleaned))
    return pain, journey_map


async def _update_touchpoint_child(
    session: AsyncSession,
    access: Access,
    model: type[PainPoint] | type[Opportunity],
    object_id: UUID,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> tuple[Any, JourneyMap]:
    """Change a pain point or an opportunity: a new version of its map."""
    what = "Pain point" if model is PainPoint else "Opportunity"
    child = await _find(session, model, object_id, what, "id")
    touchpoint = await _find(session, Touchpoint, child.touchpoint_id, "Touchpoint", "id")
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version
    )
    cleaned = _clean(values)
    if "status" in cleaned:
        status = PainPointStatus if model is PainPoint else OpportunityStatus
        cleaned["status"] = status(cleaned["status"])
    before = _row(child, list(cleaned))
    for name, value in cleaned.items():
        setattr(child, name, value)
    action = "pain_point.update" if model is PainPoint else "opportunity.update"
    await _new_version(session, access, journey_map, action)
    await _audit(session, journey_map, action, child, changes_of(before, cleaned))
    return child, journey_map


async def update_pain_point(
    session: AsyncSession,
    access: Access,
    pain_point_id: UUID,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> tuple[PainPoint, JourneyMap]:
    return await _update_touchpoint_child(
        session, access, PainPoint, pain_point_id, values, expected_version=expected_version
    )


async def add_opportunity(
    session: AsyncSession,
    access: Access,
    touchpoint_id: UUID,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> tuple[Opportunity, JourneyMap]:
    touchpoint = await _find(session, Touchpoint, touchpoint_id, "Touchpoint", "touchpointId")
    journey_map = await lock_for_change(
        session, access, touchpoint.journey_map_id, expected_version, field="touchpointId"
    )
    cleaned = _clean(values)
    cleaned["status"] = OpportunityStatus(cleaned.get("status") or OpportunityStatus.OPEN)
    pain_id = cleaned.get("pain_point_id")
    if pain_id is not None:
        pain = await session.scalar(select(PainPoint).where(PainPoint.id == pain_id))
        if pain is None or pain.touchpoint_id != touchpoint.id:
            raise NotFound("Pain point", field="painPointId")
    idea = Opportunity(workspace_id=touchpoint.workspace_id, touchpoint_id=touchpoint.id, **cleaned)
    session.add(idea)
    await session.flush()
    await _new_version(session, access, journey_map, "opportunity.add")
    await _audit(session, journey_map, "opportunity.add", idea, changes_of({}, cleaned))
    return idea, journey_map


async def update_opportunity(
    session: AsyncSession,
    access: Access,
    opportunity_id: UUID,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> tuple[Opportunity, JourneyMap]:
    return await _update_touchpoint_child(
        session, access, Opportunity, opportunity_id, values, expected_version=expected_version
    )
