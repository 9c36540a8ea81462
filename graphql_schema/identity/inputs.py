"""Mutation inputs for SSO connections, domains and sessions."""

from __future__ import annotations

import strawberry

from graphql_schema.roles import WorkspaceRole


@strawberry.input
class CreateSsoConnectionInput:
    organization_id: strawberry.ID
    issuer: str = strawberry.field(description="Checked by OpenID discovery before saving.")
    client_id: str
    client_secret: str = strawberry.field(description="Stored encrypted; never shown again.")
    allowed_domains: list[str] = strawberry.field(
        description="Email domains whose people may sign in, like example.com."
    )
    default_role: WorkspaceRole = WorkspaceRole.VIEWER
    default_workspace_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Workspaces a first sign-in joins, with defaultRole."
    )


@strawberry.input
class UpdateSsoConnectionInput:
    id: strawberry.ID
    client_id: str | None = None
    client_secret: str | None = None
    allowed_domains: list[str] | None = None
    default_role: WorkspaceRole | None = None
    default_workspace_ids: list[strawberry.ID] | None = None
    enabled: bool | None = None


@strawberry.input
class DisableSsoConnectionInput:
    id: strawberry.ID


@strawberry.input
class SignOutEverywhereInput:
    keep_this_session: bool = strawberry.field(
        default=False, description="Stay signed in in the browser that asks."
    )


@strawberry.input
class ClaimDomainInput:
    organization_id: strawberry.ID
    domain: str = strawberry.field(description="An email domain, like example.com.")


@strawberry.input
class VerifyDomainInput:
    id: strawberry.ID


@strawberry.input
class RemoveDomainInput:
    id: strawberry.ID
