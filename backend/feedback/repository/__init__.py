"""Every query on feedback, ingestion tokens and the workspace structure feedback is
placed against lives here; the batch writes' Postgres tricks in ``batch``."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.pagination import Page, PageRequest, paginate
from backend.feedback.repository import batch
from backend.feedback.repository.batch import Key, new_ids
from backend.feedback.results import Kept
from backend.models import (
    Feedback,
    IngestionToken,
    JourneyMap,
    Persona,
    Stage,
    Touchpoint,
    Workspace,
)
from backend.vocabulary.feedback import FeedbackSource, Placement, SentimentStatus
from backend.vocabulary.journeys import Scenario

__all__ = ["FeedbackRepository", "Key", "MatchKeys", "Stamp", "StructureRow", "new_ids"]

# A touchpoint's match keys: event names, survey ids, URL patterns, each a list.
MatchKeys = Mapping[str, Sequence[str]]
# Each live map's id, version and last change: what tells whether a workspace's
# structure, as read before, is still what a transaction would read.
Stamp = frozenset[tuple[UUID, int, datetime]]
# One row per touchpoint, and one per stage or map without any: the map's id, version,
# last change and scenario; the stage's id; the touchpoint's id, map and match keys.
StructureRow = tuple[
    UUID,
    int,
    datetime,
    Scenario,
    UUID | None,
    UUID | None,
    UUID | None,
    MatchKeys | None,
]


# Feedback lists, newest first, by these keys (read as JSON too: graphql_schema.json_plans).
FEEDBACK_ORDER = (Feedback.received_at, Feedback.id)


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Feedback ------------------------------------------------------------
    async def insert_new(self, workspace_id: UUID, rows: Sequence[Kept], now: datetime) -> int:
        return await batch.insert_new(self.session, workspace_id, rows, now)

    async def stored(self, workspace_id: UUID, keys: Iterable[Key]) -> dict[Key, Kept]:
        return await batch.stored(self.session, workspace_id, keys)

    async def page(
        self,
        workspace_id: UUID,
        *,
        touchpoint_id: UUID | None,
        source: FeedbackSource | None,
        page: PageRequest,
    ) -> Page[Feedback]:
        statement = select(Feedback).where(Feedback.workspace_id == workspace_id)
        if touchpoint_id is not None:
            statement = statement.where(Feedback.touchpoint_id == touchpoint_id)
        if source is not None:
            statement = statement.where(Feedback.source == source)
        return await paginate(
            self.session,
            statement,
            keys=FEEDBACK_ORDER,
            page=page,
            descending=True,
        )

    async def for_update(self, feedback_id: UUID) -> Feedback | None:
        """One item, locked until the transaction ends (two editors placing it at once
        take turns), if the session's binding shows it."""
        return await self.session.scalar(
            select(Feedback).where(Feedback.id == feedback_id).with_for_update()
        )

    async def unplaced_page(
        self,
        workspace_id: UUID,
        placements: Collection[Placement],
        *,
        page: PageRequest,
    ) -> Page[Feedback]:
        """Items placed in one of these ways, newest first (by the placement index)."""
        return await paginate(
            self.session,
            select(Feedback).where(
                Feedback.workspace_id == workspace_id, Feedback.placement.in_(placements)
            ),
            keys=FEEDBACK_ORDER,
            page=page,
            descending=True,
        )

    async def unscored(self, workspace_id: UUID, ids: Collection[UUID]) -> Sequence[Feedback]:
        """The rows among ``ids`` whose text the scorer has not read yet (PENDING)."""
        return (
            await self.session.scalars(
                select(Feedback).where(
                    Feedback.workspace_id == workspace_id,
                    Feedback.id.in_(ids),
                    Feedback.sentiment_status == SentimentStatus.PENDING,
                )
            )
        ).all()

    async def flush(self) -> None:
        await self.session.flush()

    # What feedback is placed against ---------------------------------------
    async def persona_ids(self, workspace_id: UUID, named: Collection[UUID]) -> set[UUID]:
        """Those of ``named`` that are personas of the workspace."""
        return set(
            (
                await self.session.scalars(
                    select(Persona.id).where(
                        Persona.workspace_id == workspace_id, Persona.id.in_(named)
                    )
                )
            ).all()
        )

    async def map_stamp(self, workspace_id: UUID) -> Stamp:
        rows = await self.session.execute(
            select(JourneyMap.id, JourneyMap.version, JourneyMap.updated_at).where(
                JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None)
            )
        )
        return cast(Stamp, frozenset(tuple(row) for row in rows.all()))

    async def structure_rows(self, workspace_id: UUID) -> Sequence[StructureRow]:
        """The workspace's live maps, stages and touchpoints, each row with its map's
        stamp (see ``StructureRow``)."""
        rows = await self.session.execute(
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
        return cast(Sequence[StructureRow], rows.all())

    # Ingestion tokens --------------------------------------------------------
    async def token_by_secret_hash(self, secret_hash: str) -> IngestionToken | None:
        return await self.session.scalar(
            select(IngestionToken).where(IngestionToken.secret_hash == secret_hash)
        )

    async def token(self, token_id: UUID) -> IngestionToken | None:
        return await self.session.get(IngestionToken, token_id)

    async def tokens_of(self, workspace_id: UUID) -> list[IngestionToken]:
        return list(
            (
                await self.session.scalars(
                    select(IngestionToken)
                    .where(IngestionToken.ingest_workspace_id == workspace_id)
                    .order_by(IngestionToken.created_at, IngestionToken.id)
                )
            ).all()
        )

    async def tokens_by_ids(
        self, ids: Iterable[UUID], workspace_ids: Collection[UUID]
    ) -> Sequence[IngestionToken]:
        """Tokens of these ids, of these workspaces only (tokens are no workspace's rows:
        nothing else scopes them to one)."""
        return (
            await self.session.scalars(
                select(IngestionToken).where(
                    IngestionToken.id.in_(list(ids)),
                    IngestionToken.ingest_workspace_id.in_(list(workspace_ids)),
                )
            )
        ).all()

    async def add_token(self, token: IngestionToken) -> None:
        self.session.add(token)
        await self.session.flush()

    # Workspaces ----------------------------------------------------------------
    async def workspace_exists(self, workspace_id: UUID) -> bool:
        return await self.session.get(Workspace, workspace_id) is not None


async def counts_by_touchpoint(
    session: AsyncSession, workspace_id: UUID, feedback_ids: Collection[UUID]
) -> dict[UUID, int]:
    """How many of these feedback items each touchpoint holds now."""
    rows = await session.execute(
        select(Feedback.touchpoint_id, func.count().label("n"))
        .where(
            Feedback.workspace_id == workspace_id,
            Feedback.id.in_(feedback_ids),
            Feedback.touchpoint_id.is_not(None),
        )
        .group_by(Feedback.touchpoint_id)
    )
    return {row.touchpoint_id: row.n for row in rows if row.touchpoint_id is not None}
