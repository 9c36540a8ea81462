"""Where a feedback item belongs: the links it names checked, or its touchpoint found by
the match keys it carries, and how it was placed (``backend.vocabulary.feedback.Placement``).

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
from collections.abc import Callable, Iterable, Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import NotFound, ValidationFailed
from backend.feedback.repository import FeedbackRepository, MatchKeys, Stamp, StructureRow
from backend.feedback.results import FeedbackRow
from backend.vocabulary.feedback import Placement as PlacementKind
from backend.vocabulary.journeys import Scenario

MAX_CANDIDATES = 20  # the touchpoints an ambiguous item keeps to be chosen from

# Workspaces whose structure one process keeps (the least recently used goes first).
CACHED_WORKSPACES = 128


class Structure:
    """A workspace's live maps, stages and touchpoints (ids and match keys only), with
    the match keys indexed for lookup."""

    def __init__(
        self,
        maps: Iterable[tuple[UUID, Scenario]],
        stages: Iterable[tuple[UUID, UUID]],
        touchpoints: Iterable[tuple[UUID, UUID, UUID, MatchKeys | None]],
    ) -> None:
        scenarios = dict(maps)
        self.maps = set(scenarios)
        # stage id -> its map; touchpoint id -> (its stage, its map)
        self.stages = {s: m for s, m in stages if m in scenarios}
        self.touchpoints: dict[UUID, tuple[UUID, UUID]] = {}
        self._by_event: dict[str, set[UUID]] = {}
        self._by_survey: dict[str, set[UUID]] = {}
        self._url_patterns: list[tuple[Callable[[str], re.Match[str] | None], UUID]] = []
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

    def place(self, values: FeedbackRow) -> None:
        """Check the links an item names and fill in the rest from the most specific one;
        with none named, look for its touchpoint by its match keys. Either way record how
        it was placed (``values["placement"]``), so that what did not fit can be seen."""
        touchpoint_id, stage_id = values["touchpoint_id"], values["stage_id"]
        map_id = values["journey_map_id"]
        # Each id named must exist here before any is compared with another.
        if stage_id is not None and stage_id not in self.stages:
            raise NotFound("Stage", field="stage_id")
        if map_id is not None and map_id not in self.maps:
            raise NotFound("Journey map", field="journey_map_id")
        if touchpoint_id is None and stage_id is None and map_id is None:
            self._match(values)
            return
        values["placement"] = PlacementKind.LINKED
        if touchpoint_id is not None:
            found = self.touchpoints.get(touchpoint_id)
            if found is None:
                raise NotFound("Touchpoint", field="touchpoint_id")
            self._agrees(stage_id, found[0], "stage_id")
            self._agrees(map_id, found[1], "journey_map_id")
            self.link(values, touchpoint_id)
        elif stage_id is not None:
            self._agrees(map_id, self.stages[stage_id], "journey_map_id")
            values["journey_map_id"] = self.stages[stage_id]

    def link(self, values: FeedbackRow, touchpoint_id: UUID) -> None:
        """Put the item on a touchpoint of this structure, and so its stage and map."""
        stage_id, map_id = self.touchpoints[touchpoint_id]
        values["touchpoint_id"] = touchpoint_id
        values["stage_id"] = stage_id
        values["journey_map_id"] = map_id

    @staticmethod
    def _agrees(given: UUID | None, actual: UUID, name: str) -> None:
        if given is not None and given != actual:
            raise ValidationFailed("Does not contain the touchpoint or stage given.", field=name)

    def _match(self, values: FeedbackRow) -> None:
        """Attach the item to the one current-state touchpoint listing one of its keys;
        when several or none do, leave it unattached and say so (never guess)."""
        event_name, survey_id, url = values["event_name"], values["survey_id"], values["url"]
        if not (event_name or survey_id or url):
            values["placement"] = PlacementKind.NONE
            return
        found: set[UUID] = set()
        if event_name:
            found |= self._by_event.get(event_name, set())
        if survey_id:
            found |= self._by_survey.get(survey_id, set())
        if url:
            found.update(t for matches, t in self._url_patterns if matches(url))
        if len(found) == 1:
            values["placement"] = PlacementKind.MATCHED
            self.link(values, next(iter(found)))
        elif found:
            values["placement"] = PlacementKind.AMBIGUOUS
            # A broad URL pattern can fit thousands: an editor needs a few to choose from,
            # and each row and ingestion answer carries them.
            values["placement_candidates"] = sorted(str(t) for t in found)[:MAX_CANDIDATES]
        else:
            values["placement"] = PlacementKind.UNMATCHED


class Placement:
    """What a batch is placed against: the workspace's structure and the personas its
    items name that exist there."""

    def __init__(self, structure: Structure, personas: set[UUID]) -> None:
        self._structure = structure
        self._personas = personas

    def place(self, values: FeedbackRow) -> None:
        if values["persona_id"] is not None and values["persona_id"] not in self._personas:
            raise NotFound("Persona", field="persona_id")
        self._structure.place(values)


# Structures by workspace, the least recently used first.
_kept: OrderedDict[UUID, tuple[Stamp, Structure]] = OrderedDict()


async def load(
    session: AsyncSession, workspace_id: UUID, personas: Iterable[UUID | None]
) -> Placement:
    """The placement for a batch in this workspace whose items name these personas."""
    repository = FeedbackRepository(session)
    named = {p for p in personas if p is not None}
    found = await repository.persona_ids(workspace_id, named) if named else set()
    return Placement(await structure_of(repository, workspace_id), found)


async def structure_of(repository: FeedbackRepository, workspace_id: UUID) -> Structure:
    """The workspace's structure as this transaction sees it: kept, if the maps' stamp
    is the one it was read under; read (and kept) otherwise."""
    held = _kept.get(workspace_id)
    if held is not None and await repository.map_stamp(workspace_id) == held[0]:
        _kept.move_to_end(workspace_id)
        return held[1]
    stamp, structure = _index(await repository.structure_rows(workspace_id))
    _kept[workspace_id] = (stamp, structure)
    _kept.move_to_end(workspace_id)
    while len(_kept) > CACHED_WORKSPACES:
        _kept.popitem(last=False)
    return structure


def _index(rows: Sequence[StructureRow]) -> tuple[Stamp, Structure]:
    stamp = frozenset((m, version, changed) for m, version, changed, *_ in rows)
    structure = Structure(
        {(m, scenario) for m, _, _, scenario, *_ in rows},
        {(stage, m) for m, _, _, _, stage, *_ in rows if stage is not None},
        [
            (t, stage, tm, keys)
            for _, _, _, _, stage, t, tm, keys in rows
            if t is not None and stage is not None and tm is not None
        ],
    )
    return stamp, structure
