"""Journeys' loaders: personas, maps and what a map holds.

A map's stages and touchpoints prime stage-by-id and touchpoint-by-id only once the map
is known live, and a touchpoint's pain points pain-point-by-id only once it is: by id,
anything inside a deleted map is not found, while a deleted map (an admin's restorable
one) still lists its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.lookup import ScopedRows
from backend.db.shared_reads import Reads
from backend.journeys.repository import MapRepository, PersonaRepository
from backend.models import (
    JourneyMap,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from graphql_schema.dataloaders.base import (
    ChildrenLoader,
    PlainChildrenLoader,
    RowByKeyLoader,
    by_id,
    by_parent,
)


class PersonaByIdLoader(RowByKeyLoader[Persona]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Persona]:
        return by_id(await PersonaRepository(session).by_ids(keys))


class JourneyMapByIdLoader(RowByKeyLoader[JourneyMap]):
    """Live (not deleted) maps; ``live`` holds the ids of those this request found."""

    def __init__(self, reads: Reads, access: Access) -> None:
        super().__init__(reads, access)
        self.live: set[UUID] = set()

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, JourneyMap]:
        found = by_id(await MapRepository(session).by_ids(keys))
        self.live.update(found)
        return found


class StageByIdLoader(RowByKeyLoader[Stage]):
    """Stages of live maps."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Stage]:
        return by_id(await MapRepository(session).stages_by_ids(keys))


class TouchpointByIdLoader(RowByKeyLoader[Touchpoint]):
    """Touchpoints of live maps; ``live`` holds the ids of those this request found."""

    def __init__(self, reads: Reads, access: Access) -> None:
        super().__init__(reads, access)
        self.live: set[UUID] = set()

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Touchpoint]:
        found = by_id(await MapRepository(session).touchpoints_by_ids(keys))
        self.live.update(found)
        return found

    def prime_live(self, touchpoints: Mapping[UUID, Touchpoint]) -> None:
        self.live.update(touchpoints)
        self.prime_many(touchpoints)


class PainPointByIdLoader(RowByKeyLoader[PainPoint]):
    """Pain points on live maps."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, PainPoint]:
        return by_id(await MapRepository(session).pain_points_by_ids(keys))


class OpportunityByIdLoader(RowByKeyLoader[Opportunity]):
    """Opportunities on live maps."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Opportunity]:
        return by_id(await MapRepository(session).opportunities_by_ids(keys))


class PersonaIdsByMapLoader(ChildrenLoader[UUID]):
    """A map's personas' ids, in the map's order."""

    async def fetch(self, session: AsyncSession, parents: list[UUID]) -> Mapping[UUID, list[UUID]]:
        return await MapRepository(session).persona_ids(parents)


class StagesByMapLoader(PlainChildrenLoader[Stage]):
    """A map's stages in order; those of a live map prime stage-by-id."""

    def __init__(
        self, reads: Reads, access: Access, maps: JourneyMapByIdLoader, stages: StageByIdLoader
    ) -> None:
        super().__init__(reads, access)
        self._maps = maps
        self._stages = stages

    async def fetch_rows(self, rows: ScopedRows, parents: list[UUID]) -> Mapping[UUID, list[Stage]]:
        found = await rows.select(
            Stage,
            Stage.journey_map_id.in_(parents),
            order_by=(Stage.journey_map_id, Stage.position),
        )
        return by_parent(found, lambda s: s.journey_map_id)

    def prime_related(self, parent: UUID, children: list[Stage]) -> None:
        if parent in self._maps.live:
            self._stages.prime_many(by_id(children))


class TouchpointsByMapLoader(PlainChildrenLoader[Touchpoint]):
    """A map's touchpoints by stage and position; those of a live map prime
    touchpoint-by-id."""

    def __init__(
        self,
        reads: Reads,
        access: Access,
        maps: JourneyMapByIdLoader,
        touchpoints: TouchpointByIdLoader,
    ) -> None:
        super().__init__(reads, access)
        self._maps = maps
        self._touchpoints = touchpoints

    async def fetch_rows(
        self, rows: ScopedRows, parents: list[UUID]
    ) -> Mapping[UUID, list[Touchpoint]]:
        found = await rows.select(
            Touchpoint,
            Touchpoint.journey_map_id.in_(parents),
            order_by=(Touchpoint.stage_id, Touchpoint.position),
        )
        return by_parent(found, lambda t: t.journey_map_id)

    def prime_related(self, parent: UUID, children: list[Touchpoint]) -> None:
        if parent in self._maps.live:
            self._touchpoints.prime_live(by_id(children))


class PainPointsByTouchpointLoader(PlainChildrenLoader[PainPoint]):
    """A touchpoint's pain points, oldest first; those of a touchpoint known live (on a
    live map) prime pain-point-by-id."""

    def __init__(
        self,
        reads: Reads,
        access: Access,
        touchpoints: TouchpointByIdLoader,
        pain_points: PainPointByIdLoader,
    ) -> None:
        super().__init__(reads, access)
        self._touchpoints = touchpoints
        self._pain_points = pain_points

    async def fetch_rows(
        self, rows: ScopedRows, parents: list[UUID]
    ) -> Mapping[UUID, list[PainPoint]]:
        found = await rows.select(
            PainPoint,
            PainPoint.touchpoint_id.in_(parents),
            order_by=(PainPoint.created_at, PainPoint.id),
        )
        return by_parent(found, lambda p: p.touchpoint_id)

    def prime_related(self, parent: UUID, children: list[PainPoint]) -> None:
        if parent in self._touchpoints.live:
            self._pain_points.prime_many(by_id(children))


class OpportunitiesByTouchpointLoader(ChildrenLoader[Opportunity]):
    async def fetch(
        self, session: AsyncSession, parents: list[UUID]
    ) -> Mapping[UUID, list[Opportunity]]:
        found = await MapRepository(session).opportunities_of(parents)
        return by_parent(found, lambda o: o.touchpoint_id)


class EmotionsByTouchpointLoader(ChildrenLoader[TouchpointEmotion]):
    async def fetch(
        self, session: AsyncSession, parents: list[UUID]
    ) -> Mapping[UUID, list[TouchpointEmotion]]:
        found = await MapRepository(session).emotions_of(parents)
        return by_parent(found, lambda e: e.touchpoint_id)


class JourneyLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.persona_by_id = PersonaByIdLoader(reads, access)
        self.journey_map_by_id = JourneyMapByIdLoader(reads, access)
        self.stage_by_id = StageByIdLoader(reads, access)
        self.touchpoint_by_id = TouchpointByIdLoader(reads, access)
        self.pain_point_by_id = PainPointByIdLoader(reads, access)
        self.opportunity_by_id = OpportunityByIdLoader(reads, access)
        self.persona_ids_by_map = PersonaIdsByMapLoader(reads, access)
        self.stages_by_map = StagesByMapLoader(
            reads, access, self.journey_map_by_id, self.stage_by_id
        )
        self.touchpoints_by_map = TouchpointsByMapLoader(
            reads, access, self.journey_map_by_id, self.touchpoint_by_id
        )
        self.pain_points_by_touchpoint = PainPointsByTouchpointLoader(
            reads, access, self.touchpoint_by_id, self.pain_point_by_id
        )
        self.opportunities_by_touchpoint = OpportunitiesByTouchpointLoader(reads, access)
        self.emotions_by_touchpoint = EmotionsByTouchpointLoader(reads, access)
