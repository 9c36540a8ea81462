"""What a principal may reach: its roles per organization and per workspace.

``Access`` is the only source of tenant bindings for request sessions, so a
caller can never be handed a session that reaches beyond its workspaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from uuid import UUID

from sqlalchemy import select

from backend.auth.principal import Principal
from backend.authz.roles import OrgRole, WorkspaceRole, strongest, workspace_role_from_org_role
from backend.db.engine import Database
from backend.db.scoping import UNSCOPED_OPTION, TenantBinding
from backend.errors import Forbidden, NotFound
from backend.models import OrganizationMembership, Workspace, WorkspaceMembership


@dataclass(frozen=True)
class Access:
    principal: Principal
    org_roles: Mapping[UUID, OrgRole] = field(default_factory=lambda: MappingProxyType({}))
    workspace_roles: Mapping[UUID, WorkspaceRole] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Organization of each reachable workspace (guests see their workspace's org).
    workspace_orgs: Mapping[UUID, UUID] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def user_id(self) -> UUID:
        return self.principal.user_id

    @property
    def read_only(self) -> bool:
        return self.principal.read_only

    def binding(self) -> TenantBinding:
        # Workspaces only: the user id is bound solely while computing access
        # (load_access), so the own-rows RLS policy cannot widen a narrowed caller.
        return TenantBinding(frozenset(self.workspace_roles))

    def workspace_role(self, workspace_id: UUID) -> WorkspaceRole | None:
        return self.workspace_roles.get(workspace_id)

    def org_role(self, organization_id: UUID) -> OrgRole | None:
        return self.org_roles.get(organization_id)

    def sees_organization(self, organization_id: UUID) -> bool:
        return organization_id in self.org_roles or organization_id in set(
            self.workspace_orgs.values()
        )

    def visible_organization_ids(self) -> frozenset[UUID]:
        return frozenset(self.org_roles) | frozenset(self.workspace_orgs.values())

    def including_new_workspace(self, workspace_id: UUID, organization_id: UUID) -> Access:
        """This access once the caller has created a workspace in an org they administer."""
        org_role = self.org_role(organization_id)
        role = workspace_role_from_org_role(org_role) if org_role else None
        if role is None:
            return self
        return replace(
            self,
            workspace_roles=MappingProxyType({**self.workspace_roles, workspace_id: role}),
            workspace_orgs=MappingProxyType({**self.workspace_orgs, workspace_id: organization_id}),
        )

    def require_workspace(
        self, workspace_id: UUID, role: WorkspaceRole, *, field: str | None = None
    ) -> None:
        """NOT_FOUND if the workspace is out of reach, FORBIDDEN if the role is too weak."""
        have = self.workspace_role(workspace_id)
        if have is None:
            raise NotFound("Workspace", field=field)
        if not have.at_least(role):
            raise Forbidden(f"Requires the {role} role in this workspace.", field=field)
        self.require_writable()

    def require_organization(
        self, organization_id: UUID, role: OrgRole, *, field: str | None = None
    ) -> None:
        if not self.sees_organization(organization_id):
            raise NotFound("Organization", field=field)
        have = self.org_role(organization_id)
        if have is None or not have.at_least(role):
            raise Forbidden(f"Requires the {role} role in this organization.", field=field)
        self.require_writable()

    def require_writable(self) -> None:
        if self.read_only:
            raise Forbidden("This API token is read-only.")


async def load_access(db: Database, principal: Principal) -> Access:
    binding = TenantBinding(user_id=principal.user_id)
    async with db.transaction(binding) as session:
        org_roles = {
            m.organization_id: m.role
            for m in await session.scalars(
                select(OrganizationMembership).where(
                    OrganizationMembership.user_id == principal.user_id
                )
            )
        }
        admin_orgs = [org for org, role in org_roles.items() if role.at_least(OrgRole.ADMIN)]
        implied = (
            await session.execute(
                select(Workspace.id, Workspace.organization_id).where(
                    Workspace.organization_id.in_(admin_orgs)
                )
            )
        ).all()
        direct = (
            await session.execute(
                select(
                    WorkspaceMembership.workspace_id,
                    WorkspaceMembership.role,
                    Workspace.organization_id,
                )
                .join(Workspace, Workspace.id == WorkspaceMembership.workspace_id)
                .where(WorkspaceMembership.user_id == principal.user_id)
                .execution_options(**{UNSCOPED_OPTION: True})
            )
        ).all()

    workspace_roles: dict[UUID, WorkspaceRole] = {}
    workspace_orgs: dict[UUID, UUID] = {}
    for workspace_id, organization_id in implied:
        role = workspace_role_from_org_role(org_roles[organization_id])
        if role is not None:
            workspace_roles[workspace_id] = role
            workspace_orgs[workspace_id] = organization_id
    for workspace_id, role, organization_id in direct:
        best = strongest(workspace_roles.get(workspace_id), role)
        assert best is not None
        workspace_roles[workspace_id] = best
        workspace_orgs[workspace_id] = organization_id

    if principal.restricted_organization_id is not None:
        org = principal.restricted_organization_id
        org_roles = {k: v for k, v in org_roles.items() if k == org}
        workspace_roles = {k: v for k, v in workspace_roles.items() if workspace_orgs[k] == org}
        workspace_orgs = {k: v for k, v in workspace_orgs.items() if v == org}

    if principal.restricted_workspace_id is not None:
        # A token limited to one workspace acts there and nowhere else, and
        # carries no organization-level powers.
        only = principal.restricted_workspace_id
        workspace_roles = {k: v for k, v in workspace_roles.items() if k == only}
        workspace_orgs = {k: v for k, v in workspace_orgs.items() if k == only}
        org_roles = {}

    return Access(
        principal=principal,
        org_roles=MappingProxyType(org_roles),
        workspace_roles=MappingProxyType(workspace_roles),
        workspace_orgs=MappingProxyType(workspace_orgs),
    )


def ingestion_access(token_id: UUID, workspace_id: UUID) -> Access:
    """What an ingestion token may do: write feedback in its one workspace (an EDITOR's
    role there, no organization powers), whoever created it and whatever became of them."""
    return Access(
        principal=Principal(user_id=token_id, email="", restricted_workspace_id=workspace_id),
        workspace_roles=MappingProxyType({workspace_id: WorkspaceRole.EDITOR}),
    )
