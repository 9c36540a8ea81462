"""User, and what an organization's ADMINs see of how its people sign in (SsoConnection,
OrganizationDomain; never a client secret)."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend import models
from backend.auth.domains import record_name, record_value
from backend.auth.sso import redirect_uri
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.relay import LoaderNode
from graphql_schema.roles import WorkspaceRole


def _global_id(type_name: str, value: object) -> strawberry.ID:
    return strawberry.ID(str(relay.GlobalID(type_name=type_name, node_id=str(value))))


@strawberry.type(name="User")
class UserType(LoaderNode):
    id: relay.NodeID[str]
    email: str
    name: str

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.User | None]:
        return loaders.tenancy.user_by_id

    @classmethod
    def from_model(cls, user: models.User) -> Self:
        return cls(id=str(user.id), email=user.email, name=user.name)


@strawberry.type(name="SsoConnection", description="An organization's OpenID provider.")
class SsoConnectionType(LoaderNode):
    id: relay.NodeID[str]
    issuer: str
    client_id: str
    has_client_secret: bool = strawberry.field(
        description="Always true: the secret is stored encrypted and never shown again."
    )
    allowed_domains: list[str]
    default_role: WorkspaceRole
    default_workspace_ids: list[strawberry.ID] = strawberry.field(
        description="Workspaces a first sign-in joins, with defaultRole."
    )
    enabled: bool
    created_at: datetime
    updated_at: datetime
    organization_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.SsoConnection | None]:
        return loaders.tenancy.sso_connection_by_id

    @classmethod
    def from_model(cls, connection: models.SsoConnection) -> Self:
        return cls(
            id=str(connection.id),
            issuer=connection.issuer,
            client_id=connection.client_id,
            has_client_secret=bool(connection.client_secret_encrypted),
            allowed_domains=list(connection.allowed_domains),
            default_role=connection.default_role,
            default_workspace_ids=[
                _global_id("Workspace", w) for w in connection.default_workspace_ids
            ],
            enabled=connection.enabled,
            created_at=connection.created_at,
            updated_at=connection.updated_at,
            organization_id=connection.organization_id,
        )

    @strawberry.field(description="Where people start signing in.")
    async def login_url(self, info: Info) -> str:
        # Only an ADMIN of the organization reads a connection: it sees the organization.
        organization = await info.context.loaders.tenancy.organization_by_id.load(
            self.organization_id
        )
        assert organization is not None
        base = info.context.settings.base_url.rstrip("/")
        return f"{base}/auth/sso/{organization.slug}/login"

    @strawberry.field(description="The redirect URI to register with the identity provider.")
    def redirect_uri(self, info: Info) -> str:
        return redirect_uri(info.context.settings)


@strawberry.type(
    name="OrganizationDomain",
    description="An email domain the organization claims; verified once its DNS says so.",
)
class OrganizationDomainType(LoaderNode):
    id: relay.NodeID[str]
    domain: str
    verified: bool
    verified_at: datetime | None
    txt_record_name: str = strawberry.field(description="Where to publish the TXT record.")
    txt_record_value: str = strawberry.field(description="What the TXT record must say.")
    created_at: datetime

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.OrganizationDomain | None]:
        return loaders.tenancy.organization_domain_by_id

    @classmethod
    def from_model(cls, claim: models.OrganizationDomain) -> Self:
        return cls(
            id=str(claim.id),
            domain=claim.domain,
            verified=claim.verified_at is not None,
            verified_at=claim.verified_at,
            txt_record_name=record_name(claim.domain),
            txt_record_value=record_value(claim),
            created_at=claim.created_at,
        )
