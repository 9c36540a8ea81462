"""Initiatives' loaders."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.lookup import rows_by_id
from backend.db.shared_reads import Reads
from backend.models import Initiative
from graphql_schema.dataloaders.base import RowByKeyLoader, by_id


class InitiativeByIdLoader(RowByKeyLoader[Initiative]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Initiative]:
        return by_id(await rows_by_id(session, Initiative, keys))


class InitiativeLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.initiative_by_id = InitiativeByIdLoader(reads, access)
