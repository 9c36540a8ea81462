"""The pain points and initiatives of many health subjects, in one batch per request."""

from __future__ import annotations

from uuid import UUID

from backend.authz.access import Access
from backend.db.shared_reads import Reads
from backend.health.guidance import links_of
from backend.health.repository.links import Links
from backend.models import HealthSubject
from graphql_schema.dataloaders.base import Loader

SubjectKey = tuple[HealthSubject, UUID]


class LinksBySubjectLoader(Loader[SubjectKey, Links]):
    def __init__(self, reads: Reads, access: Access) -> None:
        super().__init__(load_fn=self._load)
        self.reads = reads
        self.access = access

    async def _load(self, keys: list[SubjectKey]) -> list[Links]:
        async with self.reads.transaction(self.access.binding()) as session:
            found = await links_of(session, keys)
        return [found[key] for key in keys]
