"""Object types: Organization, Workspace, WorkspaceMember, User, ApiToken, Viewer."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self
from uuid import UUID

import strawberry
from strawberry import relay

from backend import models
from backend.auth.connections import connections_of
from backend.auth.domains import claims_of
from backend.db.pagination import Page
from backend.feedback.ingestion import tokens_of
from backend.feedback.service import feedback_page
from backend.health.reads import alerts_page, portfolio_of
from backend.initiatives.service import initiatives_page
from backend.journeys.maps import deleted_maps_page
from backend.journeys.repository import MapRepository, PersonaRepository
from backend.metrics.service import metrics_page
from backend.models.audit import AuditScope
from backend.tenancy import invitations
from backend.tenancy.repository import TenancyRepository
from backend.vocabulary.initiatives import InitiativeOrder as InitiativeOrderEnum
from backend.vocabulary.roles import OrgRole as OrgRoleEnum
from backend.vocabulary.roles import WorkspaceRole as WorkspaceRoleEnum
from graphql_schema.audit.fields import (
    account_audit_events,
    workspace_audit_chain_check,
    workspace_audit_events,
    workspace_dead_letters,
)
from graphql_schema.audit.types import (
    AuditChainCheckType,
    AuditEventFilter,
    AuditEventType,
    DeadLetterType,
)
from graphql_schema.context import Info
from graphql_schema.feedback.types import FeedbackSource, FeedbackType, IngestionTokenType
from graphql_schema.health.types import (
    HealthAlertType,
    HealthScoreType,
    HealthSettingsType,
    health_of,
    thresholds_for,
)
from graphql_schema.identity.types import OrganizationDomainType, SsoConnectionType
from graphql_schema.initiatives.types import InitiativeOrder, InitiativeStatus, InitiativeType
from graphql_schema.journeys.types import (
    JourneyMapType,
    MapOrder,
    MapStatus,
    PersonaType,
    Scenario,
)
from graphql_schema.metrics.types import MetricType
from graphql_schema.permissions import ORG_ADMIN_READ, WORKSPACE_ADMIN_READ, restricted_field
from graphql_schema.relay import Connection, LoaderNode, decode_global_id
from graphql_schema.roles import OrganizationKind, OrgRole, WorkspaceRole


@strawberry.type(name="User")
class UserType(LoaderNode):
    loader: ClassVar[str] = "user_by_id"
    id: relay.NodeID[str]
    email: str
    name: str

    @classmethod
    def from_model(cls, user: models.User) -> Self:
        return cls(id=str(user.id), email=user.email, name=user.name)


@strawberry.type(name="Organization")
class OrganizationType(LoaderNode):
    loader: ClassVar[str] = "organization_by_id"
    id: relay.NodeID[str]
    slug: str
    name: str
    kind: OrganizationKind
    created_at: datetime

    @classmethod
    def from_model(cls, org: models.Organization) -> Self:
        return cls(
            id=str(org.id), slug=org.slug, name=org.name, kind=org.kind, created_at=org.created_at
        )

    @strawberry.field(description="Your role in this organization; null for workspace guests.")
    def viewer_role(self, info: Info) -> OrgRole | None:
        return info.context.access.org_role(UUID(self.id))

    @strawberry.field(
        description="The agency portfolio: the mean health of the workspaces you can reach "
        "(null before any has a score)."
    )
    async def health(self, info: Info) -> HealthScoreType | None:
        async with info.context.read() as session:
            found = await portfolio_of(session, UUID(self.id))
        return None if found is None else HealthScoreType.of(found[0], found[1], UUID(self.id))

    @strawberry.field(description="The workspaces of this organization you can reach.")
    async def workspaces(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WorkspaceType]:
        page = await info.context.loaders.workspaces_by_organization.load(
            (UUID(self.id), first, after)
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

    @restricted_field(ORG_ADMIN_READ, "How its people sign in: its SSO connections.")
    async def sso_connections(self, info: Info) -> list[SsoConnectionType] | None:
        organization_id = UUID(self.id)
        role = info.context.access.org_role(organization_id)
        if role is None or not role.at_least(OrgRoleEnum.ADMIN):
            return None
        async with info.context.read() as session:
            found = await connections_of(session, organization_id)
        return [SsoConnectionType.from_model(c, self.slug) for c in found]

    @restricted_field(ORG_ADMIN_READ, "The email domains it claims, and which it verified.")
    async def domains(self, info: Info) -> list[OrganizationDomainType] | None:
        organization_id = UUID(self.id)
        role = info.context.access.org_role(organization_id)
        if role is None or not role.at_least(OrgRoleEnum.ADMIN):
            return None
        async with info.context.read() as session:
            found = await claims_of(session, organization_id)
        return [OrganizationDomainType.from_model(c) for c in found]

    @restricted_field(ORG_ADMIN_READ, "This organization's audit trail, newest first.")
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEventType] | None:
        return await account_audit_events(
            info, AuditScope.ORGANIZATION, UUID(self.id), filter, first, after
        )


@strawberry.type(name="Workspace")
class WorkspaceType(LoaderNode):
    loader: ClassVar[str] = "workspace_by_id"
    id: relay.NodeID[str]
    name: str
    created_at: datetime
    organization_id: strawberry.Private[UUID]

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
        org = await info.context.loaders.organization_by_id.load(self.organization_id)
        assert org is not None, "a reachable workspace's organization is always visible"
        return OrganizationType.from_model(org)

    @strawberry.field(description="Your effective role here (org admins are ADMIN everywhere).")
    def viewer_role(self, info: Info) -> WorkspaceRole:
        role = info.context.access.workspace_role(UUID(self.id))
        assert role is not None
        return role

    @strawberry.field
    async def members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WorkspaceMemberType]:
        page = await info.context.loaders.members_by_workspace.load((UUID(self.id), first, after))
        return Connection.from_page(page, WorkspaceMemberType.from_model)

    @restricted_field(WORKSPACE_ADMIN_READ, "This workspace's audit trail, newest first.")
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEventType] | None:
        return await workspace_audit_events(info, UUID(self.id), filter, first, after)

    @restricted_field(
        WORKSPACE_ADMIN_READ,
        "The background verifier's last check of the audit trail (null before the first).",
    )
    async def audit_chain_check(self, info: Info) -> AuditChainCheckType | None:
        return await workspace_audit_chain_check(info, UUID(self.id))

    @restricted_field(WORKSPACE_ADMIN_READ, "Keys for sending feedback over HTTP.")
    async def ingestion_tokens(self, info: Info) -> list[IngestionTokenType] | None:
        role = info.context.access.workspace_role(UUID(self.id))
        if role is None or not role.at_least(WorkspaceRoleEnum.ADMIN):
            return None
        async with info.context.read() as session:
            found = await tokens_of(session, UUID(self.id))
        return [IngestionTokenType.from_model(t) for t in found]

    @strawberry.field(description="Its health: the mean of its active current-state maps.")
    async def health(self, info: Info) -> HealthScoreType | None:
        return await health_of(info, self.id)

    @strawberry.field(description="Initiatives; by RICE priority unless asked otherwise.")
    async def initiatives(
        self,
        info: Info,
        status: InitiativeStatus | None = None,
        order_by: InitiativeOrder = InitiativeOrderEnum.PRIORITY,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[InitiativeType]:
        async with info.context.read() as session:
            page = await initiatives_page(
                session, UUID(self.id), status=status, order=order_by, first=first, after=after
            )
        return Connection.from_page(page, InitiativeType.from_model)

    @strawberry.field(description="Metrics (KPIs), by name.")
    async def metrics(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[MetricType]:
        async with info.context.read() as session:
            page = await metrics_page(session, UUID(self.id), first, after)
        return Connection.from_page(page, MetricType.from_model)

    @strawberry.field(description="Its health thresholds (defaults until an admin sets them).")
    async def health_settings(self, info: Info) -> HealthSettingsType:
        return HealthSettingsType.of(await thresholds_for(info, UUID(self.id)))

    @strawberry.field(description="Scores that crossed the alert threshold, newest first.")
    async def health_alerts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[HealthAlertType]:
        async with info.context.read() as session:
            page = await alerts_page(session, UUID(self.id), first, after)
        return Connection.from_page(page, HealthAlertType.from_model)

    @strawberry.field(description="Feedback, newest first; filter by touchpoint or source.")
    async def feedback(
        self,
        info: Info,
        touchpoint_id: strawberry.ID | None = None,
        source: FeedbackSource | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[FeedbackType]:
        touchpoint = decode_global_id(touchpoint_id) if touchpoint_id else None
        if touchpoint_id and (touchpoint is None or touchpoint[0] != "Touchpoint"):
            return Connection.from_page(Page([], [], False, 0), FeedbackType.from_model)
        async with info.context.read() as session:
            page = await feedback_page(
                session,
                UUID(self.id),
                touchpoint_id=touchpoint[1] if touchpoint else None,
                source=source,
                first=first,
                after=after,
            )
        return Connection.from_page(page, FeedbackType.from_model)

    @strawberry.field(description="Personas, by name; `search` matches part of the name.")
    async def personas(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PersonaType]:
        async with info.context.read() as session:
            page = await PersonaRepository(session).page(UUID(self.id), search, first, after)
        return Connection.from_page(page, PersonaType.from_model)

    @strawberry.field(description="Journey maps, by title; filters combine.")
    async def journey_maps(
        self,
        info: Info,
        status: MapStatus | None = None,
        scenario: Scenario | None = None,
        persona_id: strawberry.ID | None = None,
        search: str | None = None,
        order_by: MapOrder = MapOrder.TITLE,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[JourneyMapType]:
        persona = decode_global_id(persona_id) if persona_id else None
        if persona_id and (persona is None or persona[0] != "Persona"):
            return Connection.from_page(Page([], [], False, 0), JourneyMapType.from_model)
        async with info.context.read() as session:
            page = await MapRepository(session).page(
                UUID(self.id),
                status=status,
                scenario=scenario,
                persona_id=persona[1] if persona else None,
                search=search,
                first=first,
                after=after,
                order=order_by,
            )
        return Connection.from_page(page, JourneyMapType.from_model)

    @restricted_field(WORKSPACE_ADMIN_READ, "Maps deleted in the last 30 days, restorable.")
    async def deleted_journey_maps(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[JourneyMapType] | None:
        role = info.context.access.workspace_role(UUID(self.id))
        if role is None or not role.at_least(WorkspaceRoleEnum.ADMIN):
            return None
        async with info.context.read() as session:
            page = await deleted_maps_page(session, UUID(self.id), first, after)
        return Connection.from_page(page, JourneyMapType.from_model)

    @restricted_field(WORKSPACE_ADMIN_READ, "Background messages that failed for good.")
    async def dead_letters(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[DeadLetterType] | None:
        return await workspace_dead_letters(info, UUID(self.id), first, after)


@strawberry.type(name="WorkspaceMember")
class WorkspaceMemberType(LoaderNode):
    loader: ClassVar[str] = "membership_by_id"
    id: relay.NodeID[str]
    role: WorkspaceRole
    created_at: datetime
    user_id: strawberry.Private[UUID]
    workspace_id: strawberry.Private[UUID]

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
        user = await info.context.loaders.user_by_id.load(self.user_id)
        assert user is not None
        return UserType.from_model(user)

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceType:
        workspace = await info.context.loaders.workspace_by_id.load(self.workspace_id)
        assert workspace is not None
        return WorkspaceType.from_model(workspace)


@strawberry.type(
    name="ApiToken", description="A personal API token; its secret is never shown again."
)
class ApiTokenType(LoaderNode):
    loader: ClassVar[str] = "api_token_by_id"
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
        if self.restricted_workspace_id is None:
            return None
        workspace = await info.context.loaders.workspace_by_id.load(self.restricted_workspace_id)
        return WorkspaceType.from_model(workspace) if workspace else None


@strawberry.type(description="The caller: who they are and what they can reach.")
class Viewer:
    user_id: strawberry.Private[UUID]

    @strawberry.field
    async def user(self, info: Info) -> UserType:
        user = await info.context.loaders.user_by_id.load(self.user_id)
        assert user is not None
        return UserType.from_model(user)

    @strawberry.field
    async def organizations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[OrganizationType]:
        async with info.context.read() as session:
            page = await TenancyRepository(session).organizations_page(
                info.context.access, first, after
            )
        return Connection.from_page(page, OrganizationType.from_model)

    @strawberry.field
    async def workspaces(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WorkspaceType]:
        async with info.context.read() as session:
            page = await TenancyRepository(session).workspaces_page(
                info.context.access, first, after
            )
        return Connection.from_page(page, WorkspaceType.from_model)

    @strawberry.field(description="Changes to your own account (API tokens), newest first.")
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEventType] | None:
        return await account_audit_events(info, AuditScope.USER, self.user_id, filter, first, after)

    @strawberry.field
    async def api_tokens(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiTokenType]:
        async with info.context.read() as session:
            page = await TenancyRepository(session).tokens_page(info.context.access, first, after)
        return Connection.from_page(page, ApiTokenType.from_model)


@strawberry.type(
    name="Invitation", description="A one-time link into an organization or workspace."
)
class InvitationType:
    id: strawberry.ID
    email: str
    org_role: OrgRole | None
    workspace_id: strawberry.ID | None
    workspace_role: WorkspaceRole | None
    expires_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, invitation: models.Invitation) -> Self:
        workspace = invitation.target_workspace_id
        return cls(
            id=strawberry.ID(str(relay.GlobalID("Invitation", str(invitation.id)))),
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
