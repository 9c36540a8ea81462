"""The caller's own view: Viewer (who they are, what they reach) and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend import models
from backend.db.pagination import PageRequest
from backend.tenancy.repository import TenancyRepository
from graphql_schema.audit import fields as audit_fields
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.identity.types import UserType
from graphql_schema.relay import Connection, LoaderNode
from graphql_schema.tenancy.types import OrganizationType, WorkspaceType


@strawberry.type(
    name="ApiToken", description="A personal API token; its secret is never shown again."
)
class ApiTokenType(LoaderNode):
    id: relay.NodeID[str]
    name: str
    prefix: str = strawberry.field(description="The secret's first characters, to recognise it.")
    read_only: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    restricted_workspace_id: strawberry.Private[UUID | None]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.ApiToken | None]:
        return loaders.tenancy.api_token_by_id

    @classmethod
    def from_model(cls, token: models.ApiToken) -> Self:
        return cls(
            id=str(token.id),
            name=token.name,
            prefix=token.prefix,
            read_only=token.read_only,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            expires_at=token.expires_at,
            restricted_workspace_id=token.restricted_workspace_id,
        )

    @strawberry.field(description="The one workspace this token is limited to, if any.")
    async def workspace(self, info: Info) -> WorkspaceType | None:
        return await WorkspaceType.linked(info, self.restricted_workspace_id)


@strawberry.type(description="The caller: who they are and what they can reach.")
class Viewer:
    user_id: strawberry.Private[UUID]

    @strawberry.field
    async def user(self, info: Info) -> UserType:
        user = await UserType.linked(info, self.user_id)
        assert user is not None
        return user

    @strawberry.field
    async def organizations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[OrganizationType]:
        async with info.context.read() as session:
            page = await TenancyRepository(session).organizations_page(
                info.context.access, PageRequest(first, after, last, before)
            )
        return Connection.from_page(page, OrganizationType.from_model)

    @strawberry.field
    async def workspaces(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WorkspaceType]:
        async with info.context.read() as session:
            page = await TenancyRepository(session).workspaces_page(
                info.context.access, PageRequest(first, after, last, before)
            )
        return Connection.from_page(page, WorkspaceType.from_model)

    audit_events = audit_fields.viewer_audit_events

    @strawberry.field
    async def api_tokens(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ApiTokenType]:
        async with info.context.read() as session:
            page = await TenancyRepository(session).tokens_page(
                info.context.access, PageRequest(first, after, last, before)
            )
        return Connection.from_page(page, ApiTokenType.from_model)
