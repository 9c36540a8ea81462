"""Feedback's loaders."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.lookup import rows_by_id
from backend.db.shared_reads import Reads
from backend.models import Feedback, SurveyDefinition
from graphql_schema.dataloaders.base import RowByKeyLoader, by_id


class FeedbackByIdLoader(RowByKeyLoader[Feedback]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Feedback]:
        return by_id(await rows_by_id(session, Feedback, keys))


class SurveyDefinitionByIdLoader(RowByKeyLoader[SurveyDefinition]):
    async def fetch(
        self, session: AsyncSession, keys: list[UUID]
    ) -> Mapping[UUID, SurveyDefinition]:
        return by_id(await rows_by_id(session, SurveyDefinition, keys))


class FeedbackLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.feedback_by_id = FeedbackByIdLoader(reads, access)
        self.survey_definition_by_id = SurveyDefinitionByIdLoader(reads, access)
