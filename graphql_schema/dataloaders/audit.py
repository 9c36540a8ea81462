"""Audit's loaders: dead letters."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.repository import AuditRepository
from backend.authz.access import Access
from backend.db.shared_reads import Reads
from backend.models.outbox import DeadLetter
from graphql_schema.dataloaders.base import RowByKeyLoader, by_id


class DeadLetterByIdLoader(RowByKeyLoader[DeadLetter]):
    """Dead letters of the workspaces the caller administers (``Workspace.deadLetters``)."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, DeadLetter]:
        repository = AuditRepository(session)
        return by_id(
            await repository.dead_letters_by_ids(keys, self.access.administered_workspaces())
        )


class AuditLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.dead_letter_by_id = DeadLetterByIdLoader(reads, access)
