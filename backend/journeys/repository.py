"""The SQL of the journeys domain: maps, their structure, personas and revisions.

Services decide; these classes only read and write rows. Every ORM statement here is
scoped to the caller's workspaces by the session (backend/db/scoping.py).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Select, and_, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from backend.db.base import Base
from backend.db.pagination import Page, PageRequest, paginate
from backend.models import (
    HealthGeneration,
    JourneyMap,
    JourneyMapPersona,
    JourneyMapRevision,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.validation import search_text
from backend.vocabulary.journeys import MapOrder, MapStatus, Scenario

_Inside = TypeVar("_Inside", Stage, Touchpoint)
_OnTouchpoint = TypeVar("_OnTouchpoint", PainPoint, Opportunity)
# The rows inside a map (all of them go with its stages, or its persona links).
_CONTENT = (JourneyMapPersona, Stage, Touchpoint, TouchpointEmotion, PainPoint, Opportunity)
_Content = TypeVar("_Content", Stage, Touchpoint, PainPoint, Opportunity)


@dataclass(frozen=True)
class MapStamp:
    """Together, version and health generation change whenever anything a map read
    shows changes: the map or anything inside it (version), or its scores (a pass)."""

    workspace_id: UUID
    version: int
    health_generation: int


async def read_stamp(
    connection: AsyncConnection, map_id: UUID, workspace_ids: Container[UUID]
) -> MapStamp | None:
    """The stamp of a live map in one of ``workspace_ids``, else None: one statement.

    On a Core connection no ORM criteria apply, so the workspace is checked here
    (and on Postgres by row-level security under the connection's binding).
    """
    row = (await connection.execute(_STAMP, {"map_id": map_id})).one_or_none()
    if row is None or row.workspace_id not in workspace_ids:
        return None
    return MapStamp(row.workspace_id, row.version, row.generation or 0)


# The generation as a correlated subquery: one index probe, so row-level security
# checks one row. As a join, Postgres scanned the small table and ran the policy on
# every row, parsing the bound list each time: 15 ms with 200 workspaces bound.
_GENERATION = (
    select(HealthGeneration.generation)
    .where(
        HealthGeneration.workspace_id == JourneyMap.workspace_id,
        HealthGeneration.id == JourneyMap.workspace_id,
    )
    .correlate(JourneyMap)
    .scalar_subquery()
)
_STAMP = select(JourneyMap.workspace_id, JourneyMap.version, _GENERATION.label("generation")).where(
    JourneyMap.id == bindparam("map_id"), JourneyMap.deleted_at.is_(None)
)


# A page of maps' keys and direction by order (read as JSON too: graphql_schema.json_plans).
MAP_ORDERS: dict[MapOrder, tuple[tuple[InstrumentedAttribute[Any], ...], bool]] = {
    MapOrder.TITLE: ((JourneyMap.title, JourneyMap.id), False),
    MapOrder.UPDATED_AT: ((JourneyMap.updated_at, JourneyMap.id), True),  # latest change first
}


class MapRepository:
    """Maps, what hangs off them (personas, revisions), and batched reads of their insides."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _live(self) -> Select[JourneyMap]:
        return select(JourneyMap).where(JourneyMap.deleted_at.is_(None))

    def add(self, journey_map: JourneyMap) -> None:
        self.session.add(journey_map)

    async def by_ids(self, ids: Iterable[UUID]) -> Sequence[JourneyMap]:
        return (await self.session.scalars(self._live().where(JourneyMap.id.in_(ids)))).all()

    async def locked(self, map_id: UUID) -> JourneyMap | None:
        return await self.session.scalar(
            self._live()
            .where(JourneyMap.id == map_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def locked_deleted(self, map_id: UUID) -> JourneyMap | None:
        return await self.session.scalar(
            select(JourneyMap)
            .where(JourneyMap.id == map_id, JourneyMap.deleted_at.is_not(None))
            .with_for_update()
        )

    async def page(
        self,
        workspace_id: UUID,
        *,
        status: MapStatus | None,
        scenario: Scenario | None,
        persona_id: UUID | None,
        search: str | None,
        page: PageRequest,
        order: MapOrder = MapOrder.TITLE,
    ) -> Page[JourneyMap]:
        statement = self._live().where(JourneyMap.workspace_id == workspace_id)
        if status is not None:
            statement = statement.where(JourneyMap.status == status)
        if scenario is not None:
            statement = statement.where(JourneyMap.scenario == scenario)
        if persona_id is not None:
            statement = statement.where(
                JourneyMap.id.in_(
                    select(JourneyMapPersona.journey_map_id).where(
                        JourneyMapPersona.persona_id == persona_id
                    )
                )
            )
        pattern = search_text(search)
        if pattern is not None:
            statement = statement.where(JourneyMap.title.icontains(pattern, autoescape=True))
        keys, descending = MAP_ORDERS[order]
        return await paginate(self.session, statement, keys=keys, page=page, descending=descending)

    async def deleted_page(
        self, workspace_id: UUID, *, since: datetime, page: PageRequest
    ) -> Page[JourneyMap]:
        return await paginate(
            self.session,
            select(JourneyMap).where(
                JourneyMap.workspace_id == workspace_id,
                JourneyMap.deleted_at.is_not(None),
                JourneyMap.deleted_at >= since,
            ),
            keys=[JourneyMap.deleted_at, JourneyMap.id],
            page=page,
            descending=True,
        )

    async def deleted_before(self, workspace_id: UUID, moment: datetime) -> Sequence[JourneyMap]:
        return (
            await self.session.scalars(
                select(JourneyMap).where(
                    JourneyMap.workspace_id == workspace_id,
                    JourneyMap.deleted_at.is_not(None),
                    JourneyMap.deleted_at < moment,
                )
            )
        ).all()

    async def remove(self, journey_map: JourneyMap) -> None:
        """For good: the database cascades to everything inside the map."""
        await self.session.delete(journey_map)

    # Personas on maps ---------------------------------------------------------------
    async def persona_ids(self, map_ids: Iterable[UUID]) -> dict[UUID, list[UUID]]:
        rows = (
            await self.session.execute(
                select(JourneyMapPersona.journey_map_id, JourneyMapPersona.persona_id)
                .where(JourneyMapPersona.journey_map_id.in_(map_ids))
                .order_by(JourneyMapPersona.position)
            )
        ).all()
        found: dict[UUID, list[UUID]] = {}
        for map_id, persona_id in rows:
            found.setdefault(map_id, []).append(persona_id)
        return found

    async def persona_ids_on(self, map_id: UUID) -> set[UUID]:
        return set(
            (
                await self.session.scalars(
                    select(JourneyMapPersona.persona_id).where(
                        JourneyMapPersona.journey_map_id == map_id
                    )
                )
            ).all()
        )

    def link_personas(self, journey_map: JourneyMap, persona_ids: Sequence[UUID]) -> None:
        """Put ``persona_ids`` on the map, in this order."""
        for position, persona_id in enumerate(persona_ids):
            self.session.add(
                JourneyMapPersona(
                    workspace_id=journey_map.workspace_id,
                    journey_map_id=journey_map.id,
                    persona_id=persona_id,
                    position=position,
                )
            )

    async def unlink_personas(self, map_id: UUID) -> None:
        for link in (
            await self.session.scalars(
                select(JourneyMapPersona).where(JourneyMapPersona.journey_map_id == map_id)
            )
        ).all():
            await self.session.delete(link)
        await self.session.flush()

    async def unlink_persona_everywhere(self, persona_id: UUID) -> set[UUID]:
        """Take the persona off every map and out of every touchpoint; the maps it was on."""
        links = (
            await self.session.scalars(
                select(JourneyMapPersona).where(JourneyMapPersona.persona_id == persona_id)
            )
        ).all()
        map_ids = {link.journey_map_id for link in links}
        for link in links:
            await self.session.delete(link)
        for emotion in (
            await self.session.scalars(
                select(TouchpointEmotion).where(TouchpointEmotion.persona_id == persona_id)
            )
        ).all():
            await self.session.delete(emotion)
        await self.session.flush()
        return map_ids

    # Batched reads of maps' insides (DataLoaders and snapshots) -----------------------
    async def stages_of(self, map_ids: Iterable[UUID]) -> Sequence[Stage]:
        return (
            await self.session.scalars(
                select(Stage)
                .where(Stage.journey_map_id.in_(map_ids))
                .order_by(Stage.journey_map_id, Stage.position)
            )
        ).all()

    async def touchpoints_of_maps(self, map_ids: Iterable[UUID]) -> Sequence[Touchpoint]:
        return (
            await self.session.scalars(
                select(Touchpoint)
                .where(Touchpoint.journey_map_id.in_(map_ids))
                .order_by(Touchpoint.stage_id, Touchpoint.position)
            )
        ).all()

    def _on_live_map(self, model: type[_Inside]) -> Select[_Inside]:
        """``model``'s rows whose map is not deleted: a deleted map takes its content along."""
        return select(model).join(
            JourneyMap,
            and_(
                JourneyMap.workspace_id == model.workspace_id,
                JourneyMap.id == model.journey_map_id,
                JourneyMap.deleted_at.is_(None),
            ),
        )

    async def stages_by_ids(self, ids: Iterable[UUID]) -> Sequence[Stage]:
        statement = self._on_live_map(Stage).where(Stage.id.in_(ids))
        return (await self.session.scalars(statement)).all()

    async def touchpoints_by_ids(self, ids: Iterable[UUID]) -> Sequence[Touchpoint]:
        statement = self._on_live_map(Touchpoint).where(Touchpoint.id.in_(ids))
        return (await self.session.scalars(statement)).all()

    def _on_live_touchpoint(self, model: type[_OnTouchpoint]) -> Select[_OnTouchpoint]:
        """``model``'s rows whose touchpoint's map is not deleted."""
        return (
            select(model)
            .join(
                Touchpoint,
                and_(
                    Touchpoint.workspace_id == model.workspace_id,
                    Touchpoint.id == model.touchpoint_id,
                ),
            )
            .join(
                JourneyMap,
                and_(
                    JourneyMap.workspace_id == Touchpoint.workspace_id,
                    JourneyMap.id == Touchpoint.journey_map_id,
                    JourneyMap.deleted_at.is_(None),
                ),
            )
        )

    async def pain_points_by_ids(self, ids: Iterable[UUID]) -> Sequence[PainPoint]:
        statement = self._on_live_touchpoint(PainPoint).where(PainPoint.id.in_(ids))
        return (await self.session.scalars(statement)).all()

    async def opportunities_by_ids(self, ids: Iterable[UUID]) -> Sequence[Opportunity]:
        statement = self._on_live_touchpoint(Opportunity).where(Opportunity.id.in_(ids))
        return (await self.session.scalars(statement)).all()

    async def pain_points_of(self, touchpoint_ids: Iterable[UUID]) -> Sequence[PainPoint]:
        return (
            await self.session.scalars(
                select(PainPoint)
                .where(PainPoint.touchpoint_id.in_(touchpoint_ids))
                .order_by(PainPoint.created_at, PainPoint.id)
            )
        ).all()

    async def opportunities_of(self, touchpoint_ids: Iterable[UUID]) -> Sequence[Opportunity]:
        return (
            await self.session.scalars(
                select(Opportunity)
                .where(Opportunity.touchpoint_id.in_(touchpoint_ids))
                .order_by(Opportunity.created_at, Opportunity.id)
            )
        ).all()

    async def emotions_of(self, touchpoint_ids: Iterable[UUID]) -> Sequence[TouchpointEmotion]:
        return (
            await self.session.scalars(
                select(TouchpointEmotion).where(TouchpointEmotion.touchpoint_id.in_(touchpoint_ids))
            )
        ).all()

    # Revisions ------------------------------------------------------------------------
    def add_revision(self, revision: JourneyMapRevision) -> None:
        self.session.add(revision)

    async def revision(self, map_id: UUID, version: int) -> JourneyMapRevision | None:
        return await self.session.scalar(
            select(JourneyMapRevision).where(
                JourneyMapRevision.journey_map_id == map_id, JourneyMapRevision.version == version
            )
        )

    async def revisions_page(self, map_id: UUID, page: PageRequest) -> Page[JourneyMapRevision]:
        return await paginate(
            self.session,
            select(JourneyMapRevision).where(JourneyMapRevision.journey_map_id == map_id),
            keys=[JourneyMapRevision.version],
            page=page,
            descending=True,
        )

    async def clear_content(self, map_id: UUID) -> None:
        """Delete the map's stages (the database cascades below them) and persona links.

        The cascade happens behind the session's back, so it also forgets every content
        row it holds: a restore brings rows back under the same ids.
        """
        await self.session.execute(delete(Stage).where(Stage.journey_map_id == map_id))
        await self.session.execute(
            delete(JourneyMapPersona).where(JourneyMapPersona.journey_map_id == map_id)
        )
        for row in list(self.session.identity_map.values()):
            if isinstance(row, _CONTENT):
                self.session.expunge(row)


class StructureRepository:
    """Rows inside a map, one at a time, for the services that change them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def again(self, row: _Content) -> _Content | None:
        """``row`` as it is now, None if it is gone: read once more after the map is locked,
        since a writer the lock queued behind may have moved, changed or removed it."""
        model = type(row)
        return await self.session.scalar(
            select(model).where(model.id == row.id).execution_options(populate_existing=True)
        )

    async def stage(self, stage_id: UUID) -> Stage | None:
        return await self.session.scalar(select(Stage).where(Stage.id == stage_id))

    async def touchpoint(self, touchpoint_id: UUID) -> Touchpoint | None:
        return await self.session.scalar(select(Touchpoint).where(Touchpoint.id == touchpoint_id))

    async def pain_point(self, pain_point_id: UUID) -> PainPoint | None:
        return await self.session.scalar(select(PainPoint).where(PainPoint.id == pain_point_id))

    async def opportunity(self, opportunity_id: UUID) -> Opportunity | None:
        return await self.session.scalar(
            select(Opportunity).where(Opportunity.id == opportunity_id)
        )

    async def stages_in_order(self, map_id: UUID) -> list[Stage]:
        return list(
            (
                await self.session.scalars(
                    select(Stage).where(Stage.journey_map_id == map_id).order_by(Stage.position)
                )
            ).all()
        )

    async def touchpoints_in_order(self, stage_id: UUID) -> list[Touchpoint]:
        return list(
            (
                await self.session.scalars(
                    select(Touchpoint)
                    .where(Touchpoint.stage_id == stage_id)
                    .order_by(Touchpoint.position)
                )
            ).all()
        )

    async def renumber(self, rows: Sequence[Stage | Touchpoint]) -> None:
        """Give ``rows`` positions 0..n-1 in list order without ever colliding.

        Positions are unique per parent: first park every row on a negative
        position, then set the final ones.
        """
        for index, row in enumerate(rows):
            row.position = -1 - index
        await self.session.flush()
        for index, row in enumerate(rows):
            row.position = index
        await self.session.flush()

    async def insert(self, row: Stage | Touchpoint | PainPoint | Opportunity) -> None:
        self.session.add(row)
        await self.session.flush()

    async def remove(self, row: Stage | Touchpoint | PainPoint | Opportunity) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def unlink_opportunities(self, pain_point: PainPoint) -> list[UUID]:
        """Opportunities born from ``pain_point`` forget it (they stay): its ids."""
        answering = (
            await self.session.scalars(
                select(Opportunity).where(Opportunity.pain_point_id == pain_point.id)
            )
        ).all()
        for opportunity in answering:
            opportunity.pain_point_id = None
        await self.session.flush()
        return [opportunity.id for opportunity in answering]

    async def flush(self) -> None:
        await self.session.flush()

    async def replace_emotions(
        self, touchpoint: Touchpoint, emotions: Sequence[TouchpointEmotion]
    ) -> None:
        for old in (
            await self.session.scalars(
                select(TouchpointEmotion).where(TouchpointEmotion.touchpoint_id == touchpoint.id)
            )
        ).all():
            await self.session.delete(old)
        await self.session.flush()
        self.session.add_all(emotions)

    def add_all(self, rows: Iterable[Stage | Touchpoint]) -> None:
        self.session.add_all(rows)

    async def insert_levels(self, levels: Sequence[Sequence[Base]]) -> None:
        """Insert parents before children: no ORM relationships order them for us."""
        for level in levels:
            self.session.add_all(level)
            await self.session.flush()


class PersonaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_ids(self, ids: Iterable[UUID]) -> Sequence[Persona]:
        return (await self.session.scalars(select(Persona).where(Persona.id.in_(ids)))).all()

    async def get(self, persona_id: UUID) -> Persona | None:
        return await self.session.scalar(select(Persona).where(Persona.id == persona_id))

    async def get_in(self, workspace_id: UUID, persona_id: UUID) -> Persona | None:
        return await self.session.get(Persona, (workspace_id, persona_id))

    async def ids_in(self, workspace_id: UUID, ids: Iterable[UUID] | None = None) -> set[UUID]:
        """The workspace's persona ids (among ``ids`` when given)."""
        statement = select(Persona.id).where(Persona.workspace_id == workspace_id)
        if ids is not None:
            statement = statement.where(Persona.id.in_(ids))
        return set((await self.session.scalars(statement)).all())

    async def name_taken(self, workspace_id: UUID, name: str, *, other_than: UUID | None) -> bool:
        statement = select(Persona.id).where(
            Persona.workspace_id == workspace_id, Persona.name == name
        )
        if other_than is not None:
            statement = statement.where(Persona.id != other_than)
        return await self.session.scalar(statement) is not None

    async def page(
        self, workspace_id: UUID, search: str | None, page: PageRequest
    ) -> Page[Persona]:
        statement = select(Persona).where(Persona.workspace_id == workspace_id)
        pattern = search_text(search)
        if pattern is not None:
            statement = statement.where(Persona.name.icontains(pattern, autoescape=True))
        return await paginate(self.session, statement, keys=[Persona.name, Persona.id], page=page)

    async def add(self, persona: Persona) -> None:
        self.session.add(persona)
        await self.session.flush()

    async def remove(self, persona: Persona) -> None:
        await self.session.delete(persona)
        await self.session.flush()
