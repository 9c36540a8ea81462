"""Mutations: createWorkspace, updateWorkspace, addWorkspaceMember, createApiToken,
revokeApiToken."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.tenancy import service
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import ORG_ADMIN, SIGNED_IN, WORKSPACE_ADMIN, mutation
from graphql_schema.relay import parse_id
from graphql_schema.tenancy.inputs import (
    AddWorkspaceMemberInput,
    CreateApiTokenInput,
    CreateWorkspaceInput,
    RevokeApiTokenInput,
    UpdateWorkspaceInput,
)
from graphql_schema.tenancy.types import WorkspaceMemberType, WorkspaceType
from graphql_schema.tenancy.viewer import ApiTokenType


@strawberry.type
class CreateWorkspacePayload:
    workspace: WorkspaceType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateWorkspacePayload:
    workspace: WorkspaceType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AddWorkspaceMemberPayload:
    member: WorkspaceMemberType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateApiTokenPayload:
    api_token: ApiTokenType | None = None
    token: str | None = strawberry.field(
        default=None, description="The secret. Shown this once; store it now."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeApiTokenPayload:
    api_token: ApiTokenType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TenancyMutations:
    @mutation(
        ORG_ADMIN,
        "Create a workspace.",
    )
    async def create_workspace(
        self, info: Info, input: CreateWorkspaceInput
    ) -> CreateWorkspacePayload:
        async def action(session: AsyncSession) -> CreateWorkspacePayload:
            command = input.to_command()
            access = info.context.access
            workspace = await service.create_workspace(session, access, command)
            info.context.update_access(
                access.including_new_workspace(workspace.id, command.organization_id)
            )
            return CreateWorkspacePayload(workspace=WorkspaceType.from_model(workspace))

        return await run_mutation(info, CreateWorkspacePayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Change a workspace (its name, unique in the organization); omitted fields stay.",
    )
    async def update_workspace(
        self, info: Info, input: UpdateWorkspaceInput
    ) -> UpdateWorkspacePayload:
        async def action(session: AsyncSession) -> UpdateWorkspacePayload:
            workspace = await service.update_workspace(
                session, info.context.access, input.to_command()
            )
            return UpdateWorkspacePayload(workspace=WorkspaceType.from_model(workspace))

        return await run_mutation(info, UpdateWorkspacePayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Give someone a role in a workspace.",
    )
    async def add_workspace_member(
        self, info: Info, input: AddWorkspaceMemberInput
    ) -> AddWorkspaceMemberPayload:
        async def action(session: AsyncSession) -> AddWorkspaceMemberPayload:
            membership = await service.add_workspace_member(
                session, info.context.access, input.to_command()
            )
            return AddWorkspaceMemberPayload(member=WorkspaceMemberType.from_model(membership))

        return await run_mutation(info, AddWorkspaceMemberPayload, action)

    @mutation(
        SIGNED_IN,
        "Create a personal API token; the secret is shown once.",
    )
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenPayload:
        async def action(session: AsyncSession) -> CreateApiTokenPayload:
            command = input.to_command()
            issued = await service.create_api_token(session, info.context.access, command)
            return CreateApiTokenPayload(
                api_token=ApiTokenType.from_model(issued.token), token=issued.plaintext
            )

        return await run_mutation(info, CreateApiTokenPayload, action)

    @mutation(
        SIGNED_IN,
        "Revoke one of your API tokens, at once and for good.",
    )
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput
    ) -> RevokeApiTokenPayload:
        async def action(session: AsyncSession) -> RevokeApiTokenPayload:
            token_id = parse_id(input.id, "ApiToken", field="id")
            token = await service.revoke_api_token(session, info.context.access, token_id=token_id)
            return RevokeApiTokenPayload(api_token=ApiTokenType.from_model(token))

        return await run_mutation(info, RevokeApiTokenPayload, action)
