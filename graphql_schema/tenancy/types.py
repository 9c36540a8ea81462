"""Object types of the tenants: Organization, Workspace, WorkspaceMember, Invitation.

Workspace and Organization show what every domain holds for them: each domain defines
those fields in its own ``fields`` module, and they are put together here, in the
schema's order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend import models
from backend.db.pagination import PageRequest
from backend.tenancy import invitations
from graphql_schema import survey_results as survey_results_fields
from graphql_schema.audit import fields as audit_fields
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.feedback import fields as feedback_fields
from graphql_schema.feedback import surveys as survey_fields
from graphql_schema.health import fields as health_fields
from graphql_schema.identity import fields as identity_fields
from graphql_schema.identity.types import UserType
from graphql_schema.initiatives import fields as initiative_fields
from graphql_schema.journeys import fields as journey_fields
from graphql_schema.metrics import fields as metric_fields
from graphql_schema.relay import Connection, LoaderNode
from graphql_schema.roles import OrganizationKind, OrgRole, WorkspaceRole


@strawberry.type(name="Organization")
class OrganizationType(LoaderNode):
    id: relay.NodeID[str]
    slug: str
    name: str
    kind: OrganizationKind
    created_at: datetime

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Organization | None]:
        return loaders.tenancy.organization_by_id

    @classmethod
    def from_model(cls, org: models.Organization) -> Self:
        return cls(
            id=str(org.id), slug=org.slug, name=org.name, kind=org.kind, created_at=org.created_at
        )

    @strawberry.field(description="Your role in this organization; null for workspace guests.")
    def viewer_role(self, info: Info) -> OrgRole | None:
        return info.context.access.org_role(UUID(self.id))

    # Fields other domains define in their ``fields`` modules sit where the schema has them.
    health = health_fields.organization_health

    @strawberry.field(description="The workspaces of this organization you can reach.")
    async def workspaces(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WorkspaceType]:
        page = await info.context.loaders.tenancy.workspaces_by_organization.load(
            (UUID(self.id), PageRequest(first, after, last, before))
        )
        return Connection.from_page(page, WorkspaceType.from_model)

    @strawberry.field(
        description="Invitations not used yet that you may manage (org ADMIN: all of them; "
        "workspace ADMIN: their workspace's guests); empty for anyone else."
    )
    async def pending_invitations(self, info: Info) -> list[InvitationType]:
        async with info.context.read() as session:
            found = await invitations.pending_invitations(
                session, info.context.access, UUID(self.id)
            )
        return [InvitationType.from_model(i) for i in found]

    sso_connections = identity_fields.sso_connections
    domains = identity_fields.domains
    audit_events = audit_fields.organization_audit_events


@strawberry.type(name="Workspace")
class WorkspaceType(LoaderNode):
    id: relay.NodeID[str]
    name: str
    created_at: datetime
    organization_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Workspace | None]:
        return loaders.tenancy.workspace_by_id

    @classmethod
    def from_model(cls, workspace: models.Workspace) -> Self:
        return cls(
            id=str(workspace.id),
            name=workspace.name,
            created_at=workspace.created_at,
            organization_id=workspace.organization_id,
        )

    @strawberry.field
    async def organization(self, info: Info) -> OrganizationType:
        org = await OrganizationType.linked(info, self.organization_id)
        assert org is not None, "a reachable workspace's organization is always visible"
        return org

    @strawberry.field(description="Your effective role here (org admins are ADMIN everywhere).")
    def viewer_role(self, info: Info) -> WorkspaceRole:
        role = info.context.access.workspace_role(UUID(self.id))
        assert role is not None
        return role

    @strawberry.field
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WorkspaceMemberType]:
        page = await info.context.loaders.tenancy.members_by_workspace.load(
            (UUID(self.id), PageRequest(first, after, last, before))
        )
        return Connection.from_page(page, WorkspaceMemberType.from_model)

    # What each domain holds for a workspace, defined in its ``fields`` module; the order
    # is the schema's.
    audit_events = audit_fields.workspace_audit_events
    audit_chain_check = audit_fields.workspace_audit_chain_check
    ingestion_tokens = feedback_fields.ingestion_tokens
    health = health_fields.workspace_health
    health_history = health_fields.workspace_health_history
    initiatives = initiative_fields.initiatives
    metrics = metric_fields.metrics
    health_settings = health_fields.health_settings
    health_alerts = health_fields.health_alerts
    feedback = feedback_fields.feedback
    survey_results = survey_results_fields.workspace_survey_results
    unplaced_feedback = feedback_fields.unplaced_feedback
    survey_definitions = survey_fields.survey_definitions
    personas = journey_fields.personas
    journey_maps = journey_fields.journey_maps
    deleted_journey_maps = journey_fields.deleted_journey_maps
    dead_letters = audit_fields.workspace_dead_letters


@strawberry.type(name="WorkspaceMember")
class WorkspaceMemberType(LoaderNode):
    id: relay.NodeID[str]
    role: WorkspaceRole
    created_at: datetime
    user_id: strawberry.Private[UUID]
    workspace_id: strawberry.Private[UUID]

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.WorkspaceMembership | None]:
        return loaders.tenancy.membership_by_id

    @classmethod
    def from_model(cls, membership: models.WorkspaceMembership) -> Self:
        return cls(
            id=str(membership.id),
            role=membership.role,
            created_at=membership.created_at,
            user_id=membership.user_id,
            workspace_id=membership.workspace_id,
        )

    @strawberry.field
    async def user(self, info: Info) -> UserType:
        user = await UserType.linked(info, self.user_id)
        assert user is not None
        return user

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceType:
        workspace = await WorkspaceType.linked(info, self.workspace_id)
        assert workspace is not None
        return workspace


@strawberry.type(
    name="Invitation", description="A one-time link into an organization or workspace."
)
class InvitationType(LoaderNode):
    id: relay.NodeID[str]
    email: str
    org_role: OrgRole | None
    workspace_id: strawberry.ID | None
    workspace_role: WorkspaceRole | None
    expires_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.Invitation | None]:
        return loaders.tenancy.invitation_by_id

    @classmethod
    def from_model(cls, invitation: models.Invitation) -> Self:
        workspace = invitation.target_workspace_id
        return cls(
            id=str(invitation.id),
            email=invitation.email,
            org_role=invitation.org_role,
            workspace_id=strawberry.ID(str(relay.GlobalID("Workspace", str(workspace))))
            if workspace
            else None,
            workspace_role=invitation.workspace_role,
            expires_at=invitation.expires_at,
            created_at=invitation.created_at,
            accepted_at=invitation.accepted_at,
            revoked_at=invitation.revoked_at,
        )
