"""The pain points and initiatives of many health subjects, in one batch per request."""

from __future__ import annotations

from uuid import UUID

from backend.authz.access import Access
from backend.db.engine import Database
from backend.health.guidance import links_of
from backend.health.repository.links import Links
from backend.models import HealthSubject
from graphql_schema.dataloaders.base import Loader

SubjectKey = tuple[HealthSubject, UUID]


class LinksBySubjectLoader(Loader[SubjectKey, Links]):
    def __init__(self, db: Database, access: Access) -> None:
        super().__init__(load_fn=self._load)
        self.db = db
        self.access = access

    async def _load(self, keys: list[SubjectKey]) -> list[Links]:
        async with self.db.transaction(self.access.binding()) as session:
            found = await links_of(session, keys)
        return [found[key] for key in keys]
