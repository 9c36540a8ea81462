"""Per-request DataLoaders: one batched query per kind of object, per tick."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from backend.authz.access import Access
from backend.db.engine import Database
from backend.models import ApiToken, Organization, User, Workspace, WorkspaceMembership
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
        self.api_token_by_id: DataLoader[UUID, ApiToken | None] = _by_id_loader(
            db, access, lambda s, ids: TenancyRepository(s).tokens_by_ids(access.user_id, ids)
        )
