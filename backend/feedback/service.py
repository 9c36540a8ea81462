"""Taking feedback in: validated item by item, idempotent, attached to its touchpoint.

Every door (GraphQL now; HTTP ingestion and file imports later) goes through
``submit``. An item is accepted, a duplicate (its source and external id are
already in the workspace, or earlier in the same batch: the first one wins), or
rejected with located errors. Good items are kept unless the caller asks for all or
nothing. Feedback that names no touchpoint but carries a match key (event name,
URL, survey id) attaches by itself to the one touchpoint of a current-state map
that lists the key; when several do, it stays unattached rather than guess.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.authz.roles import WorkspaceRole
from backend.db.pagination import Page, paginate
from backend.db.types import utcnow
from backend.errors import DomainError, NotFound, ValidationFailed
from backend.feedback.vocabulary import MEASURE_RANGES, FeedbackSource, MeasureKind
from backend.journeys.vocabulary import Channel, Scenario
from backend.models import Feedback, JourneyMap, Persona, Stage, Touchpoint
from backend.outbox import emit as outbox
from backend.validation import bounded_int, optional_text, required_text, text_list

MAX_BATCH = 1000
E = TypeVar("E", bound=StrEnum)
MAX_TEXT = 20_000


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Unreadable:
    """An item the API layer could not even read (a malformed id): rejected as such."""

    error: DomainError


@dataclass
class ItemResult:
    index: int
    status: Status
    feedback: Feedback | None = None
    errors: list[DomainError] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult]

    def count(self, status: Status) -> int:
        return sum(1 for item in self.items if item.status == status)


def _at(prefix: str, error: DomainError) -> DomainError:
    error.field = f"{prefix}.{error.field}" if error.field else prefix
    return error


def _member(kind: type[E], value: Any, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise ValidationFailed(f"Must be one of {names}.", field=field) from None


def _clean(item: Mapping[str, Any]) -> dict[str, Any]:
    """One item's values, checked; errors name the item's field (camelCase)."""
    measure = item.get("measure")
    if measure is not None:
        measure = _member(MeasureKind, measure, "measure")
    value = item.get("measure_value")
    if (measure is None) != (value is None):
        raise ValidationFailed(
            "A measure and its value go together.",
            field="measureValue" if value is None else "measure",
        )
    if measure is not None:
        low, high = MEASURE_RANGES[measure]
        bounded_int(value, field="measureValue", low=low, high=high)
    text = optional_text(item.get("text"), field="text", max_length=MAX_TEXT)
    if measure is None and not text:
        raise ValidationFailed("Feedback needs a measure, a text, or both.", field="text")
    occurred = item.get("occurred_at") or utcnow()
    if isinstance(occurred, datetime) and occurred > utcnow():
        raise ValidationFailed("Feedback cannot come from the future.", field="occurredAt")
    return {
        "source": _member(FeedbackSource, item["source"], "source"),
        "external_id": required_text(item["external_id"], field="externalId", max_length=200),
        "channel": _member(Channel, item["channel"], "channel") if item.get("channel") else None,
        "measure": measure,
        "measure_value": value,
        "text": text,
        "tags": text_list(item.get("tags"), field="tags", max_length=100),
        "customer_ref": optional_text(item.get("customer_ref"), field="customerRef", max_length=200)
        or None,
        "event_name": optional_text(item.get("event_name"), field="eventName", max_length=500)
        or None,
        "url": optional_text(item.get("url"), field="url", max_length=2000) or None,
        "survey_id": optional_text(item.get("survey_id"), field="surveyId", max_length=500) or None,
        "occurred_at": occurred,
        "journey_map_id": item.get("journey_map_id"),
        "stage_id": item.get("stage_id"),
        "touchpoint_id": item.get("touchpoint_id"),
        "persona_id": item.get("persona_id"),
    }


class _Structure:
    """The workspace's live maps, stages and touchpoints, loaded once for a batch."""

    def __init__(
        self,
        maps: Sequence[JourneyMap],
        stages: Sequence[Stage],
        touchpoints: Sequence[Touchpoint],
        personas: set[UUID],
    ) -> None:
        self.maps = {m.id: m for m in maps}
        self.stages = {s.id: s for s in stages if s.journey_map_id in self.maps}
        self.touchpoints = {t.id: t for t in touchpoints if t.journey_map_id in self.maps}
        self.personas = personas
        current = [
            t
            for t in self.touchpoints.values()
            if self.maps[t.journey_map_id].scenario is Scenario.CURRENT_STATE
        ]
        self._matchable = sorted(current, key=lambda t: (str(t.journey_map_id), str(t.id)))

    @classmethod
    async def load(cls, session: AsyncSession, workspace_id: UUID) -> _Structure:
        maps = (
            await session.scalars(
                select(JourneyMap).where(
                    JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None)
                )
            )
        ).all()
        ids = [m.id for m in maps]
        stages = (await session.scalars(select(Stage).where(Stage.journey_map_id.in_(ids)))).all()
        touchpoints = (
            await session.scalars(select(Touchpoint).where(Touchpoint.journey_map_id.in_(ids)))
        ).all()
        personas = set(
            (
                await session.scalars(
                    select(Persona.id).where(Persona.workspace_id == workspace_id)
                )
            ).all()
        )
        return cls(maps, stages, touchpoints, personas)

    def place(self, values: dict[str, Any]) -> None:
        """Check the links an item names and fill in the rest from the most specific one."""
        touchpoint_id, stage_id = values["touchpoint_id"], values["stage_id"]
        map_id = values["journey_map_id"]
        if values["persona_id"] is not None and values["persona_id"] not in self.personas:
            raise NotFound("Persona", field="personaId")
        # Each id named must exist here before any is compared with another.
        if stage_id is not None and stage_id not in self.stages:
            raise NotFound("Stage", field="stageId")
        if map_id is not None and map_id not in self.maps:
            raise NotFound("Journey map", field="journeyMapId")
        if touchpoint_id is None and stage_id is None and map_id is None:
            touchpoint_id = self._match(values)
            if touchpoint_id is None:
                return
        if touchpoint_id is not None:
            touchpoint = self.touchpoints.get(touchpoint_id)
            if touchpoint is None:
                raise NotFound("Touchpoint", field="touchpointId")
            self._agrees(stage_id, touchpoint.stage_id, "stageId")
            self._agrees(map_id, touchpoint.journey_map_id, "journeyMapId")
            values.update(
                touchpoint_id=touchpoint.id,
                stage_id=touchpoint.stage_id,
                journey_map_id=touchpoint.journey_map_id,
            )
        elif stage_id is not None:
            stage = self.stages[stage_id]
            self._agrees(map_id, stage.journey_map_id, "journeyMapId")
            values["journey_map_id"] = stage.journey_map_id

    @staticmethod
    def _agrees(given: UUID | None, actual: UUID, name: str) -> None:
        if given is not None and given != actual:
            raise ValidationFailed("Does not contain the touchpoint or stage given.", field=name)

    def _match(self, values: Mapping[str, Any]) -> UUID | None:
        found = [t.id for t in self._matchable if _matches(t.match_keys or {}, values)]
        return found[0] if len(found) == 1 else None


def _matches(keys: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    if values["event_name"] and values["event_name"] in keys.get("event_names", []):
        return True
    if values["survey_id"] and values["survey_id"] in keys.get("survey_ids", []):
        return True
    url = values["url"]
    return bool(url) and any(fnmatch.fnmatchcase(url, p) for p in keys.get("url_patterns", []))


async def submit(
    session: AsyncSession,
    access: Access,
    workspace_id: UUID,
    items: Sequence[Mapping[str, Any] | Unreadable],
    *,
    all_or_nothing: bool = False,
    locate: Callable[[int], str] = lambda index: f"items[{index}]",
) -> BatchResult:
    """Take in a batch; ``locate`` names where item ``index`` is in the caller's input."""
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspaceId")
    if not items:
        raise ValidationFailed("Send at least one item.", field="items")
    if len(items) > MAX_BATCH:
        raise ValidationFailed(f"At most {MAX_BATCH} items at once.", field="items")
    structure = await _Structure.load(session, workspace_id)
    results: list[ItemResult] = []
    cleaned: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        try:
            if isinstance(item, Unreadable):
                raise item.error
            values = _clean(item)
            structure.place(values)
        except DomainError as error:
            results.append(ItemResult(index, Status.REJECTED, errors=[_at(locate(index), error)]))
            continue
        cleaned[index] = values
        results.append(ItemResult(index, Status.ACCEPTED))
    keys = {(v["source"], v["external_id"]) for v in cleaned.values()}
    stored: dict[tuple[FeedbackSource, str], Feedback] = {}
    if keys:
        for row in (
            await session.scalars(
                select(Feedback).where(
                    Feedback.workspace_id == workspace_id,
                    tuple_(Feedback.source, Feedback.external_id).in_(list(keys)),
                )
            )
        ).all():
            stored[(row.source, row.external_id)] = row
    for result in results:
        if result.status != Status.ACCEPTED:
            continue
        values = cleaned[result.index]
        key = (values["source"], values["external_id"])
        if key in stored:
            result.status = Status.DUPLICATE
            result.feedback = stored[key]  # what was kept the first time
            continue
        result.feedback = stored[key] = Feedback(workspace_id=workspace_id, **values)
    rejected = [error for r in results for error in r.errors]
    if all_or_nothing and rejected:
        raise rejected[0]  # the caller's payload lists the first; nothing is written
    accepted = [r.feedback for r in results if r.status == Status.ACCEPTED and r.feedback]
    session.add_all(accepted)
    await session.flush()
    batch = BatchResult(results)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="feedback.submit",
        # One item names itself; a batch is the workspace's.
        subject_type="Feedback" if len(items) == 1 and accepted else "FeedbackBatch",
        subject_id=accepted[0].id if len(items) == 1 and accepted else workspace_id,
        changes=changes_of(
            {},
            {
                "accepted": batch.count(Status.ACCEPTED),
                "duplicates": batch.count(Status.DUPLICATE),
                "rejected": batch.count(Status.REJECTED),
            },
        ),
    )
    if accepted:
        await outbox.emit(
            session,
            workspace_id,
            "feedback.received",
            {
                "feedback_ids": [f.id for f in accepted],
                "touchpoint_ids": sorted(
                    {str(f.touchpoint_id) for f in accepted if f.touchpoint_id}
                ),
            },
        )
    return batch


async def feedback_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    touchpoint_id: UUID | None,
    source: FeedbackSource | None,
    first: int | None,
    after: str | None,
) -> Page[Feedback]:
    statement = select(Feedback).where(Feedback.workspace_id == workspace_id)
    if touchpoint_id is not None:
        statement = statement.where(Feedback.touchpoint_id == touchpoint_id)
    if source is not None:
        statement = statement.where(Feedback.source == source)
    return await paginate(
        session,
        statement,
        keys=[Feedback.received_at, Feedback.id],
        first=first,
        after=after,
        descending=True,
    )
