"""What a subject may reach: its roles per organization and per workspace.

``Access`` is the only source of tenant bindings for request sessions, so a
caller can never be handed a session that reaches beyond its workspaces. It is also
the only reader of a subject's restrictions (a token's workspace, a session's
organization, read-only): services ask the access, never the subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Select,
    String,
    Uuid,
    bindparam,
    cast,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from backend.auth import repository
from backend.auth.repository import TokenAndUser
from backend.auth.subject import (
    BrowserSession,
    IngestionKey,
    Operator,
    PersonalToken,
    Subject,
    UserSubject,
)
from backend.db import driver
from backend.db.driver import DriverStatement
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.errors import Forbidden, NotFound
from backend.models import OrganizationMembership, Workspace, WorkspaceMembership
from backend.vocabulary.roles import OrgRole, WorkspaceRole, strongest, workspace_role_from_org_role


@dataclass(frozen=True)
class Access:
    subject: Subject
    org_roles: Mapping[UUID, OrgRole] = field(default_factory=lambda: MappingProxyType({}))
    workspace_roles: Mapping[UUID, WorkspaceRole] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Organization of each reachable workspace (guests see their workspace's org).
    workspace_orgs: Mapping[UUID, UUID] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def user_id(self) -> UUID:
        """The person the caller acts for; an ingestion token acts for no one."""
        match self.subject:
            case BrowserSession() | PersonalToken() | Operator():
                return self.subject.user_id
            case IngestionKey():
                raise Forbidden("An ingestion token acts on no one's behalf.")

    @property
    def account_id(self) -> UUID | None:
        """Whose own credentials (tokens, sessions) the caller may see: the person's."""
        match self.subject:
            case BrowserSession() | PersonalToken() | Operator():
                return self.subject.user_id
            case IngestionKey():
                return None

    @property
    def token_id(self) -> UUID | None:
        """The API token the caller presents, if they present one (not a session)."""
        return self.subject.token_id if isinstance(self.subject, PersonalToken) else None

    @property
    def session_id(self) -> UUID | None:
        """The browser session the caller signed in with, if any."""
        return self.subject.session_id if isinstance(self.subject, BrowserSession) else None

    @property
    def read_only(self) -> bool:
        return isinstance(self.subject, PersonalToken) and self.subject.read_only

    @property
    def workspace_limit(self) -> UUID | None:
        """The one workspace the caller's credential is limited to, if it is."""
        match self.subject:
            case PersonalToken() | IngestionKey():
                return self.subject.workspace_id
            case BrowserSession() | Operator():
                return None

    @property
    def organization_limit(self) -> UUID | None:
        """The one organization the caller's credential acts in, if it is limited."""
        match self.subject:
            case BrowserSession() | PersonalToken():
                return self.subject.organization_id
            case IngestionKey() | Operator():
                return None

    def binding(self) -> TenantBinding:
        """The caller's workspaces, the organizations they see (as a member, or as a
        guest through a workspace: roles decide what they may do there) and their own
        credentials.

        Not ``user_id``: it is bound solely while computing access (load_access), so
        the memberships' own-rows policy cannot widen a narrowed caller.
        """
        return TenantBinding(
            frozenset(self.workspace_roles),
            organization_ids=self.visible_organization_ids(),
            account_id=self.account_id,
        )

    def workspace_role(self, workspace_id: UUID) -> WorkspaceRole | None:
        return self.workspace_roles.get(workspace_id)

    def org_role(self, organization_id: UUID) -> OrgRole | None:
        return self.org_roles.get(organization_id)

    def administered_workspaces(self) -> frozenset[UUID]:
        """The workspaces where it acts as ADMIN (an org ADMIN's every one among them)."""
        return frozenset(
            w for w, role in self.workspace_roles.items() if role.at_least(WorkspaceRole.ADMIN)
        )

    def administers_organization(self, organization_id: UUID) -> bool:
        role = self.org_roles.get(organization_id)
        return role is not None and role.at_least(OrgRole.ADMIN)

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


async def load_access(db: Database, subject: Subject) -> Access:
    """The subject's access, read in one statement (none for an ingestion token, whose
    reach comes from the token alone)."""
    if isinstance(subject, IngestionKey):
        return ingestion_access(subject.token_id, subject.workspace_id)
    async with db.connection(TenantBinding(user_id=subject.user_id)) as connection:
        return access_from_rows(subject, await access_rows(connection, subject.user_id))


async def access_rows(connection: AsyncConnection, user_id: UUID) -> list[tuple[Any, ...]]:
    """The grants ``access_from_rows`` builds on, in one statement.

    ``connection``'s transaction must bind the user (the own-rows policy on
    memberships); the statement filters by that user itself.
    """
    return [tuple(row) for row in await driver.rows(connection, _ACCESS_ROWS, user_id=user_id)]


def _access_rows() -> CompoundSelect[str, UUID, str | None, UUID | None]:
    """(kind, id, role, organization) for every grant load_access builds on.

    'org': the user's organization roles; 'implied': each workspace of an org they
    administer; 'direct': their workspace memberships, with the workspace's org.
    """
    org = OrganizationMembership
    admin = aliased(OrganizationMembership)
    user_id: BindParameter[UUID] = bindparam("user_id", type_=Uuid)
    return union_all(
        select(
            literal("org"), org.organization_id, cast(org.role, String), literal(None, Uuid)
        ).where(org.user_id == user_id),
        select(literal("implied"), Workspace.id, literal(None, String), Workspace.organization_id)
        .join(admin, admin.organization_id == Workspace.organization_id)
        .where(admin.user_id == user_id, cast(admin.role, String).in_(_ADMIN_ORG_ROLES)),
        select(
            literal("direct"),
            WorkspaceMembership.workspace_id,
            cast(WorkspaceMembership.role, String),
            Workspace.organization_id,
        )
        .join(Workspace, Workspace.id == WorkspaceMembership.workspace_id)
        .where(WorkspaceMembership.user_id == user_id),
    )


_ADMIN_ORG_ROLES = [r.value for r in OrgRole if r.at_least(OrgRole.ADMIN)]
_ACCESS_ROWS = DriverStatement(_access_rows(), "user_id")


def _token_and_grants() -> Select[*tuple[Any, ...]]:
    """The token's ``TokenAndUser`` columns, then a grant's, one row per grant of the
    user ``user_id`` (one row, the grant's columns null, when there is none)."""
    grants = _access_rows().subquery("grants")
    return repository.token_and_user_query().add_columns(*grants.c).outerjoin(grants, true())


# A known token's every request checks it with this (graphql_schema/authentication.py).
_TOKEN_AND_GRANTS = DriverStatement(_token_and_grants(), "secret_hash", "user_id")
_TOKEN_COLUMNS = len(TokenAndUser._fields)


async def token_and_grants(
    connection: AsyncConnection, secret_hash: str, user_id: UUID
) -> tuple[TokenAndUser | None, list[tuple[Any, ...]]]:
    """The token with this hash and its owner's account, and the grants of ``user_id``
    (the owner it had last time), in one statement: what ``access_rows`` returns. The
    caller must compare the token's owner with ``user_id`` before using the grants;
    ``connection``'s transaction binds ``user_id``, as for ``access_rows``."""
    found = await driver.rows(
        connection, _TOKEN_AND_GRANTS, secret_hash=secret_hash, user_id=user_id
    )
    if not found:
        return None, []
    token = TokenAndUser(*found[0][:_TOKEN_COLUMNS])
    grants = [tuple(r[_TOKEN_COLUMNS:]) for r in found if r[_TOKEN_COLUMNS] is not None]
    return token, grants


def access_from_rows(subject: UserSubject, rows: Iterable[Sequence[Any]]) -> Access:
    """What the subject reaches, from the grants ``_access_rows`` returns."""
    org_roles: dict[UUID, OrgRole] = {}
    implied: list[tuple[UUID, UUID]] = []
    direct: list[tuple[UUID, WorkspaceRole, UUID]] = []
    for kind, target, role, organization_id in rows:
        if kind == "org":
            org_roles[target] = OrgRole(role)
        elif kind == "implied":
            implied.append((target, organization_id))
        else:
            direct.append((target, WorkspaceRole(role), organization_id))

    workspace_roles: dict[UUID, WorkspaceRole] = {}
    workspace_orgs: dict[UUID, UUID] = {}
    for workspace_id, organization_id in implied:
        implied_role = workspace_role_from_org_role(org_roles[organization_id])
        if implied_role is not None:
            workspace_roles[workspace_id] = implied_role
            workspace_orgs[workspace_id] = organization_id
    for workspace_id, direct_role, organization_id in direct:
        best = strongest(workspace_roles.get(workspace_id), direct_role)
        assert best is not None
        workspace_roles[workspace_id] = best
        workspace_orgs[workspace_id] = organization_id

    access = Access(subject)
    if access.organization_limit is not None:
        org = access.organization_limit
        org_roles = {k: v for k, v in org_roles.items() if k == org}
        workspace_roles = {k: v for k, v in workspace_roles.items() if workspace_orgs[k] == org}
        workspace_orgs = {k: v for k, v in workspace_orgs.items() if v == org}

    if access.workspace_limit is not None:
        # A token limited to one workspace acts there and nowhere else, and
        # carries no organization-level powers.
        only = access.workspace_limit
        workspace_roles = {k: v for k, v in workspace_roles.items() if k == only}
        workspace_orgs = {k: v for k, v in workspace_orgs.items() if k == only}
        org_roles = {}

    return replace(
        access,
        org_roles=MappingProxyType(org_roles),
        workspace_roles=MappingProxyType(workspace_roles),
        workspace_orgs=MappingProxyType(workspace_orgs),
    )


def ingestion_access(token_id: UUID, workspace_id: UUID) -> Access:
    """What an ingestion token may do: write feedback in its one workspace (an EDITOR's
    role there, no organization powers), whoever created it and whatever became of them."""
    return Access(
        IngestionKey(token_id=token_id, workspace_id=workspace_id),
        workspace_roles=MappingProxyType({workspace_id: WorkspaceRole.EDITOR}),
    )
