"""Every query on organizations, workspaces, members and tokens lives here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest, paginate, paginate_many
from backend.db.scoping import UNSCOPED_OPTION, seeing_own_rows_of
from backend.models import (
    ApiToken,
    Organization,
    OrganizationMembership,
    User,
    Workspace,
    WorkspaceMembership,
)


class TenancyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Organizations -------------------------------------------------------
    def _organizations(self, access: Access) -> Select[Organization]:
        return select(Organization).where(Organization.id.in_(access.visible_organization_ids()))

    async def organization_by_slug(self, access: Access, slug: str) -> Organization | None:
        if len(slug) > 63 or "\x00" in slug:
            return None  # cannot exist; and Postgres refuses NUL in text
        return await self.session.scalar(
            self._organizations(access).where(Organization.slug == slug.lower())
        )

    async def organizations_by_ids(
        self, access: Access, ids: Iterable[UUID]
    ) -> Sequence[Organization]:
        return (
            await self.session.scalars(self._organizations(access).where(Organization.id.in_(ids)))
        ).all()

    async def organizations_page(self, access: Access, page: PageRequest) -> Page[Organization]:
        return await paginate(
            self.session,
            self._organizations(access),
            keys=[Organization.name, Organization.id],
            page=page,
        )

    async def slug_taken(self, slug: str) -> bool:
        return (
            await self.session.scalar(select(Organization.id).where(Organization.slug == slug))
            is not None
        )

    # Workspaces ----------------------------------------------------------
    def _workspaces(self, access: Access) -> Select[Workspace]:
        return select(Workspace).where(Workspace.id.in_(access.workspace_roles.keys()))

    async def workspaces_by_ids(self, access: Access, ids: Iterable[UUID]) -> Sequence[Workspace]:
        return (
            await self.session.scalars(self._workspaces(access).where(Workspace.id.in_(ids)))
        ).all()

    async def workspaces_page(self, access: Access, page: PageRequest) -> Page[Workspace]:
        return await paginate(
            self.session,
            self._workspaces(access),
            keys=[Workspace.name, Workspace.id],
            page=page,
        )

    async def workspaces_pages(
        self,
        access: Access,
        organization_ids: Sequence[UUID],
        page: PageRequest,
    ) -> dict[UUID, Page[Workspace]]:
        return await paginate_many(
            self.session,
            self._workspaces(access),
            partition=Workspace.organization_id,
            parents=organization_ids,
            keys=[Workspace.name, Workspace.id],
            page=page,
        )

    async def workspace_name_taken(
        self, organization_id: UUID, name: str, *, other_than: UUID | None = None
    ) -> bool:
        statement = select(Workspace.id).where(
            Workspace.organization_id == organization_id, Workspace.name == name
        )
        if other_than is not None:
            statement = statement.where(Workspace.id != other_than)
        return await self.session.scalar(statement) is not None

    async def workspace_for_update(self, workspace_id: UUID) -> Workspace | None:
        """A workspace, locked until the transaction ends: two renames take turns."""
        return await self.session.scalar(
            select(Workspace).where(Workspace.id == workspace_id).with_for_update()
        )

    # Members -------------------------------------------------------------
    async def members_pages(
        self, workspace_ids: Sequence[UUID], page: PageRequest
    ) -> dict[UUID, Page[WorkspaceMembership]]:
        return await paginate_many(
            self.session,
            select(WorkspaceMembership),
            partition=WorkspaceMembership.workspace_id,
            parents=workspace_ids,
            keys=[WorkspaceMembership.created_at, WorkspaceMembership.id],
            page=page,
        )

    async def membership(self, workspace_id: UUID, user_id: UUID) -> WorkspaceMembership | None:
        return await self.session.scalar(
            select(WorkspaceMembership).where(
                WorkspaceMembership.workspace_id == workspace_id,
                WorkspaceMembership.user_id == user_id,
            )
        )

    async def memberships_by_ids(self, ids: Iterable[UUID]) -> Sequence[WorkspaceMembership]:
        # Tenant scoping limits this to the caller's workspaces.
        return (
            await self.session.scalars(
                select(WorkspaceMembership).where(WorkspaceMembership.id.in_(ids))
            )
        ).all()

    # Users ---------------------------------------------------------------
    async def visible_users_by_ids(self, access: Access, ids: Iterable[UUID]) -> Sequence[User]:
        """The caller and the members of workspaces the caller can reach."""
        co_members = select(WorkspaceMembership.user_id)
        return (
            await self.session.scalars(
                select(User).where(
                    User.id.in_(ids), or_(User.id == access.user_id, User.id.in_(co_members))
                )
            )
        ).all()

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def belongs_to_organization(
        self, organization_id: UUID, user_id: UUID, *, besides: UUID | None = None
    ) -> bool:
        """Whether the person is a member of the organization or has a role in one of its
        workspaces other than ``besides``."""
        if await self.session.get(OrganizationMembership, (organization_id, user_id)):
            return True
        # Their workspaces may be beyond the caller's binding: count them all, a number
        # and no rows.
        statement = (
            select(func.count())
            .select_from(WorkspaceMembership)
            .join(Workspace, Workspace.id == WorkspaceMembership.workspace_id)
            .where(
                Workspace.organization_id == organization_id,
                WorkspaceMembership.user_id == user_id,
            )
            .execution_options(**{UNSCOPED_OPTION: True})
        )
        if besides is not None:
            statement = statement.where(WorkspaceMembership.workspace_id != besides)
        async with seeing_own_rows_of(self.session, user_id):
            return bool(await self.session.scalar(statement))

    # Tokens ---------------------------------------------------------------
    def _tokens(self, access: Access) -> Select[ApiToken]:
        """The caller's tokens: a workspace-limited token sees only its workspace's, a
        credential limited to one organization only those limited to it."""
        statement = select(ApiToken).where(ApiToken.user_id == access.user_id)
        limit = access.workspace_limit
        if limit is not None:
            statement = statement.where(ApiToken.restricted_workspace_id == limit)
        organization = access.organization_limit
        if organization is not None:
            statement = statement.where(ApiToken.restricted_organization_id == organization)
        return statement

    async def visible_token_ids(self, access: Access) -> Sequence[UUID]:
        return (
            await self.session.scalars(self._tokens(access).with_only_columns(ApiToken.id))
        ).all()

    async def token_of_user(self, access: Access, token_id: UUID) -> ApiToken | None:
        return await self.session.scalar(self._tokens(access).where(ApiToken.id == token_id))

    async def tokens_by_ids(self, access: Access, ids: Iterable[UUID]) -> Sequence[ApiToken]:
        return (await self.session.scalars(self._tokens(access).where(ApiToken.id.in_(ids)))).all()

    async def tokens_page(self, access: Access, page: PageRequest) -> Page[ApiToken]:
        return await paginate(
            self.session,
            self._tokens(access),
            keys=[ApiToken.created_at, ApiToken.id],
            page=page,
        )
