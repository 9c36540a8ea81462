"""Tenancy's loaders: organizations, workspaces, users, memberships, API tokens, and what
admins manage of an organization (invitations, domains, SSO connections)."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.connections import connections_by_ids
from backend.auth.domains import claims_by_ids
from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest
from backend.db.shared_reads import Reads
from backend.models import (
    ApiToken,
    Invitation,
    Organization,
    OrganizationDomain,
    SsoConnection,
    User,
    Workspace,
    WorkspaceMembership,
)
from backend.tenancy.invitations import pending_invitations_by_ids
from backend.tenancy.repository import TenancyRepository
from graphql_schema.dataloaders.base import PagesLoader, RowByKeyLoader, by_id


class OrganizationByIdLoader(RowByKeyLoader[Organization]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Organization]:
        return by_id(await TenancyRepository(session).organizations_by_ids(self.access, keys))


class WorkspaceByIdLoader(RowByKeyLoader[Workspace]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Workspace]:
        return by_id(await TenancyRepository(session).workspaces_by_ids(self.access, keys))


class UserByIdLoader(RowByKeyLoader[User]):
    """The caller and the members of the workspaces they reach; None for anyone else."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, User]:
        return by_id(await TenancyRepository(session).visible_users_by_ids(self.access, keys))


class WorkspaceMembershipByIdLoader(RowByKeyLoader[WorkspaceMembership]):
    async def fetch(
        self, session: AsyncSession, keys: list[UUID]
    ) -> Mapping[UUID, WorkspaceMembership]:
        return by_id(await TenancyRepository(session).memberships_by_ids(keys))


class ApiTokenByIdLoader(RowByKeyLoader[ApiToken]):
    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, ApiToken]:
        return by_id(await TenancyRepository(session).tokens_by_ids(self.access, keys))


class InvitationByIdLoader(RowByKeyLoader[Invitation]):
    """Pending invitations the caller may manage (``Organization.pendingInvitations``)."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, Invitation]:
        return by_id(await pending_invitations_by_ids(session, self.access, keys))


class OrganizationDomainByIdLoader(RowByKeyLoader[OrganizationDomain]):
    """Domains of the organizations the caller administers (``Organization.domains``)."""

    async def fetch(
        self, session: AsyncSession, keys: list[UUID]
    ) -> Mapping[UUID, OrganizationDomain]:
        found = await claims_by_ids(session, keys)
        return by_id([c for c in found if self.access.administers_organization(c.organization_id)])


class SsoConnectionByIdLoader(RowByKeyLoader[SsoConnection]):
    """Connections of the organizations the caller administers
    (``Organization.ssoConnections``)."""

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, SsoConnection]:
        found = await connections_by_ids(session, keys)
        return by_id([c for c in found if self.access.administers_organization(c.organization_id)])


class WorkspacesByOrganizationLoader(PagesLoader[Workspace]):
    """An organization's workspaces the caller reaches; each found primes workspace-by-id
    (both read the same reachable workspaces)."""

    def __init__(self, reads: Reads, access: Access, workspaces: WorkspaceByIdLoader) -> None:
        super().__init__(reads, access)
        self._workspaces = workspaces

    async def fetch(
        self, session: AsyncSession, parents: list[UUID], page: PageRequest
    ) -> Mapping[UUID, Page[Workspace]]:
        return await TenancyRepository(session).workspaces_pages(self.access, parents, page)

    def prime_related(self, page: Page[Workspace]) -> None:
        self._workspaces.prime_many(by_id(page.items))


class MembersByWorkspaceLoader(PagesLoader[WorkspaceMembership]):
    """A workspace's memberships; each found primes membership-by-id."""

    def __init__(
        self, reads: Reads, access: Access, memberships: WorkspaceMembershipByIdLoader
    ) -> None:
        super().__init__(reads, access)
        self._memberships = memberships

    async def fetch(
        self, session: AsyncSession, parents: list[UUID], page: PageRequest
    ) -> Mapping[UUID, Page[WorkspaceMembership]]:
        return await TenancyRepository(session).members_pages(parents, page)

    def prime_related(self, page: Page[WorkspaceMembership]) -> None:
        self._memberships.prime_many(by_id(page.items))


class TenancyLoaders:
    def __init__(self, reads: Reads, access: Access) -> None:
        self.organization_by_id = OrganizationByIdLoader(reads, access)
        self.workspace_by_id = WorkspaceByIdLoader(reads, access)
        self.user_by_id = UserByIdLoader(reads, access)
        self.membership_by_id = WorkspaceMembershipByIdLoader(reads, access)
        self.api_token_by_id = ApiTokenByIdLoader(reads, access)
        self.workspaces_by_organization = WorkspacesByOrganizationLoader(
            reads, access, self.workspace_by_id
        )
        self.members_by_workspace = MembersByWorkspaceLoader(reads, access, self.membership_by_id)
        self.invitation_by_id = InvitationByIdLoader(reads, access)
        self.organization_domain_by_id = OrganizationDomainByIdLoader(reads, access)
        self.sso_connection_by_id = SsoConnectionByIdLoader(reads, access)
