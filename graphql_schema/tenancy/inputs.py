"""Mutation inputs for organizations, workspaces, members and API tokens."""

from __future__ import annotations

import strawberry

from backend.tenancy.commands import (
    AddWorkspaceMember,
    CreateApiToken,
    CreateInvitation,
    CreateWorkspace,
    RemoveOrganizationMember,
    RemoveWorkspaceMember,
    UpdateWorkspace,
)
from graphql_schema.partial import sent
from graphql_schema.relay import parse_id
from graphql_schema.roles import OrgRole, WorkspaceRole


@strawberry.input
class CreateWorkspaceInput:
    organization_id: strawberry.ID
    name: str

    def to_command(self) -> CreateWorkspace:
        return CreateWorkspace(
            organization_id=parse_id(self.organization_id, "Organization", field="organizationId"),
            name=self.name,
        )


@strawberry.input
class UpdateWorkspaceInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET

    def to_command(self) -> UpdateWorkspace:
        return UpdateWorkspace(
            workspace_id=parse_id(self.id, "Workspace", field="id"), name=sent(self.name, "name")
        )


@strawberry.input
class AddWorkspaceMemberInput:
    workspace_id: strawberry.ID
    email: str = strawberry.field(description="Invites the person if they have no account yet.")
    role: WorkspaceRole

    def to_command(self) -> AddWorkspaceMember:
        return AddWorkspaceMember(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspaceId"),
            email=self.email,
            role=self.role,
        )


@strawberry.input
class CreateApiTokenInput:
    name: str
    workspace_id: strawberry.ID | None = strawberry.field(
        default=None, description="Limit the token to this one workspace."
    )
    read_only: bool = False
    expires_in_days: int | None = None

    def to_command(self) -> CreateApiToken:
        return CreateApiToken(
            name=self.name,
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspaceId")
            if self.workspace_id is not None
            else None,
            read_only=self.read_only,
            expires_in_days=self.expires_in_days,
        )


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.input
class CreateInvitationInput:
    organization_id: strawberry.ID
    email: str
    org_role: OrgRole | None = strawberry.field(
        default=None, description="MEMBER or ADMIN of the organization (org ADMIN invites)."
    )
    workspace_id: strawberry.ID | None = strawberry.field(
        default=None, description="A workspace to join; alone, the person is a guest there."
    )
    workspace_role: WorkspaceRole | None = None
    expires_in_days: int | None = strawberry.field(default=None, description="1 to 30; 7 if unset.")

    def to_command(self) -> CreateInvitation:
        return CreateInvitation(
            organization_id=parse_id(self.organization_id, "Organization", field="organizationId"),
            email=self.email,
            org_role=self.org_role,
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspaceId")
            if self.workspace_id
            else None,
            workspace_role=self.workspace_role,
            expires_in_days=self.expires_in_days,
        )


@strawberry.input
class RevokeInvitationInput:
    id: strawberry.ID


@strawberry.input
class RemoveWorkspaceMemberInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID

    def to_command(self) -> RemoveWorkspaceMember:
        return RemoveWorkspaceMember(
            workspace_id=parse_id(self.workspace_id, "Workspace", field="workspaceId"),
            user_id=parse_id(self.user_id, "User", field="userId"),
        )


@strawberry.input
class RemoveOrganizationMemberInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID

    def to_command(self) -> RemoveOrganizationMember:
        return RemoveOrganizationMember(
            organization_id=parse_id(self.organization_id, "Organization", field="organizationId"),
            user_id=parse_id(self.user_id, "User", field="userId"),
        )
