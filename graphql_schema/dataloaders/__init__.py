"""Per-request DataLoaders: one batched query per kind of object, per tick."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from backend.authz.access import Access
from backend.db.engine import Database
from backend.db.pagination import Page
from backend.errors import DomainError
from backend.journeys.repository import MapRepository, PersonaRepository
from backend.metrics.service import latest_values
from backend.models import (
    ApiToken,
    Feedback,
    HealthScore,
    HealthSettings,
    Initiative,
    JourneyMap,
    MapReview,
    Metric,
    MetricValue,
    Opportunity,
    Organization,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
    User,
    Workspace,
    WorkspaceMembership,
)
from backend.tenancy.repository import TenancyRepository

M = TypeVar("M")


def _by_id_loader(
    db: Database,
    access: Access,
    fetch: Callable[[AsyncSession, Iterable[UUID]], Awaitable[Sequence[M]]],
) -> DataLoader[UUID, M | None]:
    async def load(ids: list[UUID]) -> list[M | None]:
        async with db.transaction(access.binding()) as session:
            found = {row.id: row for row in await fetch(session, ids)}  # type: ignore[attr-defined]
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


PageKey = tuple[UUID, int | None, str | None]  # (parent id, first, after)
PagesFetch = Callable[
    [AsyncSession, list[UUID], int | None, str | None], Awaitable[dict[UUID, Page[M]]]
]


def _pages_loader(
    db: Database, access: Access, fetch: PagesFetch[M]
) -> DataLoader[PageKey, Page[M]]:
    """Nested connections of many parents, one batched fetch per (first, after)."""

    async def load(keys: list[PageKey]) -> list[Page[M] | BaseException]:
        groups: dict[tuple[int | None, str | None], list[UUID]] = defaultdict(list)
        for parent, first, after in keys:
            groups[first, after].append(parent)
        found: dict[PageKey, Page[M] | BaseException] = {}
        async with db.transaction(access.binding()) as session:
            for (first, after), parents in groups.items():
                try:
                    pages = await fetch(session, parents, first, after)
                except DomainError as error:  # e.g. a bad cursor: fails only these keys
                    found.update({(p, first, after): error for p in parents})
                else:
                    found.update({(p, first, after): pages[p] for p in parents})
        return [found[key] for key in keys]

    return DataLoader(load_fn=load)


K = TypeVar("K")


def _grouped_loader(
    db: Database,
    access: Access,
    fetch: Callable[[AsyncSession, list[UUID]], Awaitable[dict[UUID, list[M]]]],
) -> DataLoader[UUID, list[M]]:
    """Children of many parents in one query; a parent without children gets []."""

    async def load(ids: list[UUID]) -> list[list[M]]:
        async with db.transaction(access.binding()) as session:
            found = await fetch(session, ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _keyed_loader(
    db: Database,
    access: Access,
    fetch: Callable[[AsyncSession, list[UUID]], Awaitable[dict[UUID, M]]],
) -> DataLoader[UUID, M | None]:
    """One row per key (or none), found by one batched query."""

    async def load(ids: list[UUID]) -> list[M | None]:
        async with db.transaction(access.binding()) as session:
            found = await fetch(session, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def _rows_by_id(session: AsyncSession, model: type[M], ids: Iterable[UUID]) -> Sequence[M]:
    column = model.id  # type: ignore[attr-defined]
    return (await session.scalars(select(model).where(column.in_(list(ids))))).all()


async def _group(rows: Awaitable[Sequence[M]], key: str) -> dict[UUID, list[M]]:
    grouped: dict[UUID, list[M]] = defaultdict(list)
    for row in await rows:
        grouped[getattr(row, key)].append(row)
    return grouped


class Loaders:
    """Named ``<Model>By<Key>Loader`` in spirit; created fresh for every request."""

    def __init__(self, db: Database, access: Access) -> None:
        self.organization_by_id: DataLoader[UUID, Organization | None] = _by_id_loader(
            db, access, lambda s, ids: TenancyRepository(s).organizations_by_ids(access, ids)
        )
        self.workspace_by_id: DataLoader[UUID, Workspace | None] = _by_id_loader(
            db, access, lambda s, ids: TenancyRepository(s).workspaces_by_ids(access, ids)
        )
        self.user_by_id: DataLoader[UUID, User | None] = _by_id_loader(
            db, access, lambda s, ids: TenancyRepository(s).visible_users_by_ids(access, ids)
        )
        self.membership_by_id: DataLoader[UUID, WorkspaceMembership | None] = _by_id_loader(
            db, access, lambda s, ids: TenancyRepository(s).memberships_by_ids(ids)
        )
        self.workspaces_by_organization: DataLoader[PageKey, Page[Workspace]] = _pages_loader(
            db,
            access,
            lambda s, ids, first, after: TenancyRepository(s).workspaces_pages(
                access, ids, first, after
            ),
        )
        self.members_by_workspace: DataLoader[PageKey, Page[WorkspaceMembership]] = _pages_loader(
            db,
            access,
            lambda s, ids, first, after: TenancyRepository(s).members_pages(ids, first, after),
        )
        self.persona_by_id: DataLoader[UUID, Persona | None] = _by_id_loader(
            db, access, lambda s, ids: PersonaRepository(s).by_ids(ids)
        )
        self.journey_map_by_id: DataLoader[UUID, JourneyMap | None] = _by_id_loader(
            db, access, lambda s, ids: MapRepository(s).by_ids(ids)
        )
        self.persona_ids_by_map: DataLoader[UUID, list[UUID]] = _grouped_loader(
            db, access, lambda s, ids: MapRepository(s).persona_ids(ids)
        )
        self.stages_by_map: DataLoader[UUID, list[Stage]] = _grouped_loader(
            db, access, lambda s, ids: _group(MapRepository(s).stages_of(ids), "journey_map_id")
        )
        self.touchpoints_by_map: DataLoader[UUID, list[Touchpoint]] = _grouped_loader(
            db,
            access,
            lambda s, ids: _group(MapRepository(s).touchpoints_of_maps(ids), "journey_map_id"),
        )
        self.stage_by_id: DataLoader[UUID, Stage | None] = _by_id_loader(
            db, access, lambda s, ids: MapRepository(s).stages_by_ids(ids)
        )
        self.touchpoint_by_id: DataLoader[UUID, Touchpoint | None] = _by_id_loader(
            db, access, lambda s, ids: MapRepository(s).touchpoints_by_ids(ids)
        )
        self.pain_points_by_touchpoint: DataLoader[UUID, list[PainPoint]] = _grouped_loader(
            db, access, lambda s, ids: _group(MapRepository(s).pain_points_of(ids), "touchpoint_id")
        )
        self.opportunities_by_touchpoint: DataLoader[UUID, list[Opportunity]] = _grouped_loader(
            db,
            access,
            lambda s, ids: _group(MapRepository(s).opportunities_of(ids), "touchpoint_id"),
        )
        self.emotions_by_touchpoint: DataLoader[UUID, list[TouchpointEmotion]] = _grouped_loader(
            db, access, lambda s, ids: _group(MapRepository(s).emotions_of(ids), "touchpoint_id")
        )
        self.feedback_by_id: DataLoader[UUID, Feedback | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, Feedback, ids)
        )
        # Keyed by the subject's id: a touchpoint's, stage's, map's or workspace's.
        self.health_by_subject: DataLoader[UUID, HealthScore | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, HealthScore, ids)
        )
        self.health_settings_by_workspace: DataLoader[UUID, HealthSettings | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, HealthSettings, ids)
        )
        self.review_by_map: DataLoader[UUID, MapReview | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, MapReview, ids)
        )
        self.pain_point_by_id: DataLoader[UUID, PainPoint | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, PainPoint, ids)
        )
        self.initiative_by_id: DataLoader[UUID, Initiative | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, Initiative, ids)
        )
        self.metric_by_id: DataLoader[UUID, Metric | None] = _by_id_loader(
            db, access, lambda s, ids: _rows_by_id(s, Metric, ids)
        )
        self.latest_value_by_metric: DataLoader[UUID, MetricValue | None] = _keyed_loader(
            db, access, latest_values
        )
        self.api_token_by_id: DataLoader[UUID, ApiToken | None] = _by_id_loader(
            db, access, lambda s, ids: TenancyRepository(s).tokens_by_ids(access, ids)
        )
