"""Changes to organizations, workspaces, members and API tokens.

Services check permissions through ``Access``, change state and leave the
commit to the caller's transaction boundary (request, mutation or command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth import linking
from backend.auth.tokens import new_secret
from backend.authz.access import Access
from backend.db.scoping import widen, widen_to_account, widen_to_organization
from backend.db.types import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.models import (
    ApiToken,
    Organization,
    OrganizationMembership,
    User,
    Workspace,
    WorkspaceMembership,
)
from backend.outbox import emit as outbox
from backend.patch import UNSET
from backend.tenancy.commands import (
    AddWorkspaceMember,
    CreateApiToken,
    CreateWorkspace,
    UpdateWorkspace,
)
from backend.tenancy.repository import TenancyRepository
from backend.validation import Checks, bounded_int, email_address, required_text, slug
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import OrganizationKind, OrgRole, WorkspaceRole

MAX_TOKEN_LIFETIME_DAYS = 3650


@dataclass(frozen=True)
class IssuedToken:
    """A token with its secret; the secret exists only here and is never stored."""

    token: ApiToken
    plaintext: str


@dataclass(frozen=True)
class Bootstrapped:
    organization: Organization
    workspace: Workspace
    admin: User
    token: IssuedToken


async def user_for_email(session: AsyncSession, email: str) -> User:
    """The account of this address; a new one, never signed in, if there is none."""
    user = await TenancyRepository(session).user_by_email(email)
    if user is None:
        user = User(email=email, name="")
        session.add(user)
        await session.flush()
    return user


async def bootstrap_organization(
    session: AsyncSession,
    *,
    org_slug: str,
    name: str,
    kind: OrganizationKind,
    admin_email: str,
    workspace_name: str = "Default",
) -> Bootstrapped:
    """Create an organization, its first workspace and its owner, with an API token.

    Runs as the system (CLI), not on behalf of a caller, hence no Access.
    """
    org_slug = slug(org_slug, field="org")
    name = required_text(name, field="name")
    admin_email = email_address(admin_email, field="adminEmail")
    repo = TenancyRepository(session)
    if await repo.slug_taken(org_slug):
        raise ValidationFailed(f"An organization with slug {org_slug!r} exists.", field="org")
    organization = Organization(slug=org_slug, name=name, kind=kind)
    session.add(organization)
    await session.flush()
    await widen_to_organization(session, organization.id)
    admin = await user_for_email(session, admin_email)
    await widen_to_account(session, admin.id)
    admin.email_verified_at = admin.email_verified_at or utcnow()  # an operator said so
    session.add(
        OrganizationMembership(
            organization_id=organization.id, user_id=admin.id, role=OrgRole.OWNER
        )
    )
    workspace = Workspace(organization_id=organization.id, name=workspace_name)
    session.add(workspace)
    await session.flush()
    token = _issue_token(session, admin.id, name="bootstrap", workspace_id=None, read_only=False)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization.id,
        action=AuditAction.ORGANIZATION_CREATE,
        subject_type="Organization",
        subject_id=organization.id,
        changes=changes_of(
            {},
            {
                "slug": org_slug,
                "name": name,
                "kind": kind,
                "owner": admin.email,
                "first_workspace": workspace_name,
            },
        ),
    )
    return Bootstrapped(organization, workspace, admin, token)


async def create_workspace(
    session: AsyncSession, access: Access, command: CreateWorkspace
) -> Workspace:
    organization_id = command.organization_id
    access.require_organization(organization_id, OrgRole.ADMIN, field="organization_id")
    name = required_text(command.name, field="name")
    if await TenancyRepository(session).workspace_name_taken(organization_id, name):
        raise ValidationFailed("A workspace with this name already exists.", field="name")
    workspace = Workspace(organization_id=organization_id, name=name)
    session.add(workspace)
    await session.flush()
    await widen(session, workspace.id)
    await audit.record(
        session,
        organization_id=organization_id,
        action=AuditAction.WORKSPACE_CREATE,
        subject_type="Workspace",
        subject_id=workspace.id,
        changes=changes_of({}, {"name": name}),
    )
    return workspace


async def update_workspace(
    session: AsyncSession, access: Access, command: UpdateWorkspace
) -> Workspace:
    """Change a workspace (its name, unique in the organization); its ADMINs may."""
    access.require_workspace(command.workspace_id, WorkspaceRole.ADMIN, field="id")
    repo = TenancyRepository(session)
    workspace = await repo.workspace_for_update(command.workspace_id)
    if workspace is None:
        raise NotFound("Workspace", field="id")
    before: dict[str, object] = {"name": workspace.name}
    after: dict[str, object] = {}
    if command.name is not UNSET:
        name = required_text(command.name, field="name")
        if await repo.workspace_name_taken(
            workspace.organization_id, name, other_than=workspace.id
        ):
            raise ValidationFailed("A workspace with this name already exists.", field="name")
        workspace.name = after["name"] = name
    await session.flush()
    await audit.record(
        session,
        workspace_id=workspace.id,
        action=AuditAction.WORKSPACE_UPDATE,
        subject_type="Workspace",
        subject_id=workspace.id,
        changes=changes_of(before, after),
    )
    return workspace


async def add_workspace_member(
    session: AsyncSession, access: Access, command: AddWorkspaceMember
) -> WorkspaceMembership:
    """Give someone a role in a workspace: a person of the organization, or an address no
    one has signed in with yet (an account they can enter through an invitation).

    Adding an existing member again sets their role: the call is idempotent.
    """
    workspace_id, role = command.workspace_id, command.role
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    email = email_address(command.email)
    user = await user_for_email(session, email)
    repo = TenancyRepository(session)
    organization_id = access.workspace_orgs[workspace_id]
    if not await repo.belongs_to_organization(organization_id, user.id) and not (
        await linking.is_dormant(session, user)
    ):
        # Someone else's account is not attached by its address alone: they accept an
        # invitation, signed in, or decline it.
        raise ValidationFailed(
            f"{email} has an account outside this organization: invite them instead "
            "(createInvitation).",
            field="email",
        )
    membership = await repo.membership(workspace_id, user.id)
    before: dict[str, object] = {}
    if membership is None:
        membership = WorkspaceMembership(workspace_id=workspace_id, user_id=user.id, role=role)
        session.add(membership)
        action = AuditAction.WORKSPACE_MEMBER_ADD
    else:
        before = {"email": email, "role": membership.role}
        membership.role = role
        action = AuditAction.WORKSPACE_MEMBER_UPDATE
    await session.flush()
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=action,
        subject_type="WorkspaceMember",
        subject_id=membership.id,
        changes=changes_of(before, {"email": email, "role": role}),
    )
    await outbox.emit(
        session,
        workspace_id,
        "workspace_member.changed",
        {"membership_id": membership.id, "user_id": user.id, "role": role},
    )
    return membership


async def create_api_token(
    session: AsyncSession, access: Access, command: CreateApiToken
) -> IssuedToken:
    workspace_id, read_only = command.workspace_id, command.read_only
    expires_in_days = command.expires_in_days
    access.require_writable()
    with Checks() as check:  # every field's mistake at once
        name = check(required_text, command.name, field="name")
        check(
            bounded_int,
            expires_in_days,
            field="expires_in_days",
            low=1,
            high=MAX_TOKEN_LIFETIME_DAYS,
        )
    if workspace_id is not None and access.workspace_role(workspace_id) is None:
        raise NotFound("Workspace", field="workspace_id")
    limit = access.workspace_limit
    if limit is not None and workspace_id != limit:
        # A limited token must not mint a token that reaches further than itself.
        raise Forbidden(
            "A token limited to one workspace can only create tokens for that workspace.",
            field="workspace_id",
        )
    issued = _issue_token(
        session, access.user_id, name=name, workspace_id=workspace_id, read_only=read_only
    )
    # A session or token that acts in one organization mints tokens that do too.
    issued.token.restricted_organization_id = access.organization_limit
    if expires_in_days is not None:
        issued.token.expires_at = utcnow() + timedelta(days=expires_in_days)
    await session.flush()
    token = issued.token
    await audit.record(
        session,
        user_id=access.user_id,
        action=AuditAction.API_TOKEN_CREATE,
        subject_type="ApiToken",
        subject_id=token.id,
        # Never the secret: only what identifies and limits the token.
        changes=changes_of(
            {},
            {
                "name": token.name,
                "prefix": token.prefix,
                "workspace_id": token.restricted_workspace_id,
                "organization_id": token.restricted_organization_id,
                "read_only": token.read_only,
                "expires_at": token.expires_at,
            },
        ),
    )
    return issued


async def revoke_api_token(session: AsyncSession, access: Access, *, token_id: UUID) -> ApiToken:
    """Revoke one of the caller's own tokens; others' tokens do not exist for them."""
    access.require_writable()
    token = await TenancyRepository(session).token_of_user(access, token_id)
    if token is None:
        raise NotFound("API token", field="id")
    before = {"revoked_at": token.revoked_at}
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
    await audit.record(
        session,
        user_id=access.user_id,
        action=AuditAction.API_TOKEN_REVOKE,
        subject_type="ApiToken",
        subject_id=token.id,
        changes=changes_of(before, {"revoked_at": token.revoked_at}),
    )
    return token


async def issue_token(
    session: AsyncSession, user_id: UUID, *, name: str, expires_at: datetime | None = None
) -> IssuedToken:
    """A full-power token for a user, issued by the system (the CLI), not by a caller: the
    operator vouches for the account."""
    await widen_to_account(session, user_id)
    user = await session.get(User, user_id)
    if user is not None and user.email_verified_at is None:
        user.email_verified_at = utcnow()
    issued = _issue_token(session, user_id, name=name, workspace_id=None, read_only=False)
    issued.token.expires_at = expires_at
    await session.flush()
    await audit.record(
        session,
        user_id=user_id,
        action=AuditAction.API_TOKEN_CREATE,
        subject_type="ApiToken",
        subject_id=issued.token.id,
        changes=changes_of(
            {}, {"name": name, "prefix": issued.token.prefix, "expires_at": expires_at}
        ),
    )
    return issued


def _issue_token(
    session: AsyncSession, user_id: UUID, *, name: str, workspace_id: UUID | None, read_only: bool
) -> IssuedToken:
    secret = new_secret()
    token = ApiToken(
        user_id=user_id,
        name=name,
        prefix=secret.prefix,
        secret_hash=secret.hash,
        restricted_workspace_id=workspace_id,
        read_only=read_only,
    )
    session.add(token)
    return IssuedToken(token, secret.plaintext)
