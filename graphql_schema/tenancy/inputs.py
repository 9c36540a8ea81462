"""Mutation inputs for organizations, workspaces, members and API tokens."""

from __future__ import annotations

import strawberry

from graphql_schema.roles import WorkspaceRole


@strawberry.input
class CreateWorkspaceInput:
    organization_id: strawberry.ID
    name: str


@strawberry.input
class AddWorkspaceMemberInput:
    workspace_id: strawberry.ID
    email: str = strawberry.field(description="Invites the person if they have no account yet.")
    role: WorkspaceRole  # type: ignore[valid-type]


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
