"""Mutation inputs for organizations, workspaces, members and API tokens."""

from __future__ import annotations

import strawberry

from graphql_schema.roles import OrgRole, WorkspaceRole


@strawberry.input
class CreateWorkspaceInput:
    organization_id: strawberry.ID
    name: str


@strawberry.input
class AddWorkspaceMemberInput:
    workspace_id: strawberry.ID
    email: str = strawberry.field(description="Invites the person if they have no account yet.")
    role: WorkspaceRole


@strawberry.input
class CreateApiTokenInput:
    name: str
    workspace_id: strawberry.ID | None = strawberry.field(
        default=None, description="Limit the token to this one workspace."
    )
    read_only: bool = False
    expires_in_days: int | None = None


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


@strawberry.input
class RevokeInvitationInput:
    id: strawberry.ID


@strawberry.input
class RemoveWorkspaceMemberInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class RemoveOrganizationMemberInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID
