"""Feedback's loaders: items, survey definitions, ingestion tokens."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.lookup import rows_by_id
from backend.db.shared_reads import Reads
from backend.feedback.repository import FeedbackRepository
from backend.models import Feedback, IngestionToken, SurveyDefinition
from graphql_schema.dataloaders.base import RowByKeyLoader, by_id


class FeedbackByIdLoader(RowByKeyLoader[Feedback]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Feedback]:
        return by_id(await rows_by_id(session, Feedback, keys))


class SurveyDefinitionByIdLoader(RowByKeyLoader[SurveyDefinition]):
    async def fetch(
        self, session: AsyncSession, keys: list[UUID]
    ) -> Mapping[UUID, SurveyDefinition]:
        return by_id(await rows_by_id(session, SurveyDefinition, keys))


class IngestionTokenByIdLoader(RowByKeyLoader[IngestionToken]):
    """Tokens of the workspaces the caller administers (``Workspace.ingestionTokens``)."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, IngestionToken]:
        repository = FeedbackRepository(session)
        return by_id(await repository.tokens_by_ids(keys, self.access.administered_workspaces()))


class FeedbackLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.feedback_by_id = FeedbackByIdLoader(reads, access)
        self.survey_definition_by_id = SurveyDefinitionByIdLoader(reads, access)
        self.ingestion_token_by_id = IngestionTokenByIdLoader(reads, access)
