"""Mutation inputs for SSO connections, domains and sessions."""

from __future__ import annotations

from uuid import UUID

import strawberry

from backend.tenancy.commands import ChangeSsoConnection, ClaimDomain, CreateSsoConnection
from graphql_schema.relay import parse_id
from graphql_schema.roles import WorkspaceRole


def _workspace_ids(ids: list[strawberry.ID], field: str) -> list[UUID]:
    return [parse_id(i, "Workspace", field=f"{field}[{n}]") for n, i in enumerate(ids)]


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

    def to_command(self) -> CreateSsoConnection:
        return CreateSsoConnection(
            organization_id=parse_id(self.organization_id, "Organization", field="organizationId"),
            issuer=self.issuer,
            client_id=self.client_id,
            client_secret=self.client_secret,
            allowed_domains=self.allowed_domains,
            default_role=self.default_role,
            default_workspace_ids=_workspace_ids(self.default_workspace_ids, "defaultWorkspaceIds"),
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

    def to_command(self) -> ChangeSsoConnection:
        return ChangeSsoConnection(
            client_id=self.client_id,
            client_secret=self.client_secret,
            allowed_domains=self.allowed_domains,
            default_role=self.default_role,
            default_workspace_ids=_workspace_ids(self.default_workspace_ids, "defaultWorkspaceIds")
            if self.default_workspace_ids is not None
            else None,
            enabled=self.enabled,
        )


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

    def to_command(self) -> ClaimDomain:
        return ClaimDomain(
            organization_id=parse_id(self.organization_id, "Organization", field="organizationId"),
            domain=self.domain,
        )


@strawberry.input
class VerifyDomainInput:
    id: strawberry.ID


@strawberry.input
class RemoveDomainInput:
    id: strawberry.ID
