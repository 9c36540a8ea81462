"""Where a feedback item belongs: the links it names checked, or its touchpoint found by
the match keys it carries.

Placing a batch needs the workspace's live maps, stages and touchpoints (ids and match
keys). Reading and indexing them is most of what a batch costs in a workspace of many
maps (some 2,000 touchpoints: 60 ms a batch), and they rarely change, so each process
keeps them per workspace, checked before every batch against a stamp: the id, version
and last change of each live map. Every change inside a map moves its version and its
``updated_at``, so a stamp read in the batch's own transaction tells whether what is
kept is still what that transaction would read. Personas are not part of a map's
version; the few a batch names are looked up with it.
"""

from __future__ import annotations

import fnmatch
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import NotFound, ValidationFailed
from backend.models import JourneyMap, Persona, Stage, Touchpoint
from backend.vocabulary.journeys import Scenario

# Workspaces whose structure one process keeps (the least recently used goes first).
CACHED_WORKSPACES = 128

Stamp = frozenset[tuple[UUID, int, datetime]]


class Structure:
    """A workspace's live maps, stages and touchpoints (ids and match keys only), with
    the match keys indexed for lookup."""

    def __init__(
        self,
        maps: Iterable[tuple[UUID, Scenario]],
        stages: Iterable[tuple[UUID, UUID]],
        touchpoints: Iterable[tuple[UUID, UUID, UUID, Mapping[str, Any] | None]],
    ) -> None:
        scenarios = dict(maps)
        self.maps = set(scenarios)
        # stage id -> its map; touchpoint id -> (its stage, its map)
        self.stages = {s: m for s, m in stages if m in scenarios}
        self.touchpoints: dict[UUID, tuple[UUID, UUID]] = {}
        self._by_event: dict[str, set[UUID]] = {}
        self._by_survey: dict[str, set[UUID]] = {}
        self._url_patterns: list[tuple[Callable[[str], Any], UUID]] = []
        for touchpoint_id, stage_id, map_id, keys in touchpoints:
            if map_id not in scenarios:
                continue
            self.touchpoints[touchpoint_id] = (stage_id, map_id)
            if scenarios[map_id] is not Scenario.CURRENT_STATE:
                continue
            keys = keys or {}
            for name in keys.get("event_names", []):
                self._by_event.setdefault(name, set()).add(touchpoint_id)
            for name in keys.get("survey_ids", []):
                self._by_survey.setdefault(name, set()).add(touchpoint_id)
            for pattern in keys.get("url_patterns", []):
                # fnmatch.fnmatchcase, compiled once.
                matcher = re.compile(fnmatch.translate(pattern)).match
                self._url_patterns.append((matcher, touchpoint_id))

    def place(self, values: dict[str, Any]) -> None:
        """Check the links an item names and fill in the rest from the most specific one."""
        touchpoint_id, stage_id = values["touchpoint_id"], values["stage_id"]
        map_id = values["journey_map_id"]
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
            found = self.touchpoints.get(touchpoint_id)
            if found is None:
                raise NotFound("Touchpoint", field="touchpointId")
            self._agrees(stage_id, found[0], "stageId")
            self._agrees(map_id, found[1], "journeyMapId")
            values.update(touchpoint_id=touchpoint_id, stage_id=found[0], journey_map_id=found[1])
        elif stage_id is not None:
            self._agrees(map_id, self.stages[stage_id], "journeyMapId")
            values["journey_map_id"] = self.stages[stage_id]

    @staticmethod
    def _agrees(given: UUID | None, actual: UUID, name: str) -> None:
        if given is not None and given != actual:
            raise ValidationFailed("Does not contain the touchpoint or stage given.", field=name)

    def _match(self, values: Mapping[str, Any]) -> UUID | None:
        """The one current-state touchpoint listing one of the item's keys, if just one."""
        found: set[UUID] = set()
        if values["event_name"]:
            found |= self._by_event.get(values["event_name"], set())
        if values["survey_id"]:
            found |= self._by_survey.get(values["survey_id"], set())
        url = values["url"]
        if url:
            found.update(t for matches, t in self._url_patterns if matches(url))
        return next(iter(found)) if len(found) == 1 else None


class Placement:
    """What a batch is placed against: the workspace's structure and the personas its
    items name that exist there."""

    def __init__(self, structure: Structure, personas: set[UUID]) -> None:
        self._structure = structure
        self._personas = personas

    def place(self, values: dict[str, Any]) -> None:
        if values["persona_id"] is not None and values["persona_id"] not in self._personas:
            raise NotFound("Persona", field="personaId")
        self._structure.place(values)


# Structures by workspace, the least recently used first.
_kept: OrderedDict[UUID, tuple[Stamp, Structure]] = OrderedDict()


async def load(
    session: AsyncSession, workspace_id: UUID, personas: Iterable[UUID | None]
) -> Placement:
    """The placement for a batch in this workspace whose items name these personas."""
    named = {p for p in personas if p is not None}
    found: set[UUID] = set()
    if named:
        found = set(
            (
                await session.scalars(
                    select(Persona.id).where(
                        Persona.workspace_id == workspace_id, Persona.id.in_(named)
                    )
                )
            ).all()
        )
    return Placement(await structure_of(session, workspace_id), found)


async def structure_of(session: AsyncSession, workspace_id: UUID) -> Structure:
    """The workspace's structure as this transaction sees it: kept, if the maps' stamp
    is the one it was read under; read (and kept) otherwise."""
    held = _kept.get(workspace_id)
    if held is not None:
        stamp = frozenset(
            tuple(row)
            for row in (
                await session.execute(
                    select(JourneyMap.id, JourneyMap.version, JourneyMap.updated_at).where(
                        JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None)
                    )
                )
            ).all()
        )
        if stamp == held[0]:
            _kept.move_to_end(workspace_id)
            return held[1]
    stamp, structure = await _read(session, workspace_id)
    _kept[workspace_id] = (stamp, structure)
    _kept.move_to_end(workspace_id)
    while len(_kept) > CACHED_WORKSPACES:
        _kept.popitem(last=False)
    return structure


async def _read(session: AsyncSession, workspace_id: UUID) -> tuple[Stamp, Structure]:
    # One row per touchpoint, and one per stage or map without any; each row carries
    # its map's stamp.
    rows: Sequence[Any] = (
        await session.execute(
            select(
                JourneyMap.id,
                JourneyMap.version,
                JourneyMap.updated_at,
                JourneyMap.scenario,
                Stage.id,
                Touchpoint.id,
                Touchpoint.journey_map_id,
                Touchpoint.match_keys,
            )
            .select_from(JourneyMap)
            .outerjoin(Stage, Stage.journey_map_id == JourneyMap.id)
            .outerjoin(Touchpoint, Touchpoint.stage_id == Stage.id)
            .where(JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None))
        )
    ).all()
    stamp = frozenset((m, version, changed) for m, version, changed, *_ in rows)
    structure = Structure(
        {(m, scenario) for m, _, _, scenario, *_ in rows},
        {(stage, m) for m, _, _, _, stage, *_ in rows if stage is not None},
        [(t, stage, tm, keys) for *_, stage, t, tm, keys in rows if t is not None],
    )
    return stamp, structure
