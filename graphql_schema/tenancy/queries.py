"""Queries: viewer, organization(slug), workspace(id)."""

from __future__ import annotations

import strawberry

from backend.tenancy.repository import TenancyRepository
from graphql_schema.context import Info
from graphql_schema.relay import decode_global_id
from graphql_schema.tenancy.types import OrganizationType, WorkspaceType
from graphql_schema.tenancy.viewer import Viewer


@strawberry.type
class TenancyQueries:
    @strawberry.field(description="The authenticated caller.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer(user_id=info.context.access.user_id)

    @strawberry.field(description="An organization you belong to or hold a workspace role in.")
    async def organization(self, info: Info, slug: str) -> OrganizationType | None:
        async with info.context.read() as session:
            org = await TenancyRepository(session).organization_by_slug(info.context.access, slug)
        return OrganizationType.from_model(org) if org else None

    @strawberry.field(description="A workspace you can reach; null otherwise.")
    async def workspace(self, info: Info, id: strawberry.ID) -> WorkspaceType | None:
        decoded = decode_global_id(id)
        if decoded is None or decoded[0] != "Workspace":
            return None
        workspace = await info.context.loaders.tenancy.workspace_by_id.load(decoded[1])
        return WorkspaceType.from_model(workspace) if workspace else None
