"""Invitations by one-time link: created and revoked by admins, accepted once, expiring.

An organization ADMIN invites members (org MEMBER or ADMIN, optionally with a role in
one workspace); a workspace ADMIN invites guests into their workspace. Opening the
link and confirming signs the person in (creating their account if need be): the
link is the credential, so only its hash is stored and it works once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth import linking
from backend.authz.access import Access
from backend.db.types import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.models import (
    Invitation,
    Organization,
    OrganizationMembership,
    User,
    Workspace,
    WorkspaceMembership,
)
from backend.tenancy.commands import CreateInvitation
from backend.tenancy.repository import TenancyRepository
from backend.validation import Checks, bounded_int, email_address
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import OrgRole, WorkspaceRole, strongest

INVITATION_PREFIX = "wpi_"
DEFAULT_LIFETIME_DAYS = 7
MAX_LIFETIME_DAYS = 30


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    secret: str  # goes into the link, shown once


class InvitationUnusable(Exception):
    """Why a link cannot be used; safe to show whoever holds it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def accept_path(secret: str) -> str:
    return f"/auth/invitations/{secret}"


async def create_invitation(
    session: AsyncSession, access: Access, command: CreateInvitation
) -> IssuedInvitation:
    organization_id, org_role = command.organization_id, command.org_role
    workspace_id, workspace_role = command.workspace_id, command.workspace_role
    if org_role is None and workspace_id is None:
        raise ValidationFailed(
            "Invite into the organization, a workspace, or both.", field="org_role"
        )
    if (workspace_id is None) != (workspace_role is None):
        field = "workspace_role" if workspace_role is None else "workspace_id"
        raise ValidationFailed("A workspace and its role go together.", field=field)
    if org_role is not None:
        access.require_organization(organization_id, OrgRole.ADMIN, field="organization_id")
    if workspace_id is not None:
        if access.workspace_orgs.get(workspace_id) != organization_id:
            raise NotFound("Workspace", field="workspace_id")
        access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    elif not access.sees_organization(organization_id):
        raise NotFound("Organization", field="organization_id")
    with Checks() as check:  # every field's mistake at once, in the input's order
        email = check(email_address, command.email)
        if org_role is OrgRole.OWNER:
            check.fail(
                ValidationFailed(
                    "Ownership is transferred, not given by invitation.", field="org_role"
                )
            )
        days = check(
            bounded_int,
            command.expires_in_days,
            field="expires_in_days",
            low=1,
            high=MAX_LIFETIME_DAYS,
        )
    if not _is_org_admin(access, organization_id):
        # Only the organization's admins decide what its people hold: a client guest
        # who administers one workspace must not reach a member's or another
        # workspace's guest's account this way.
        invited = await session.scalar(select(User.id).where(User.email == email))
        if invited is not None and await TenancyRepository(session).belongs_to_organization(
            organization_id, invited, besides=workspace_id
        ):
            raise ValidationFailed(
                "This person already belongs to the organization: ask an organization admin.",
                field="email",
            )
    secret = INVITATION_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=organization_id,
        email=email,
        org_role=org_role,
        target_workspace_id=workspace_id,
        workspace_role=workspace_role,
        secret_hash=_hash(secret),
        invited_by=access.user_id,
        expires_at=utcnow() + timedelta(days=days or DEFAULT_LIFETIME_DAYS),
    )
    session.add(invitation)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action=AuditAction.INVITATION_CREATE,
        subject_type="Invitation",
        subject_id=invitation.id,
        changes=changes_of({}, _described(invitation)),
    )
    return IssuedInvitation(invitation, secret)


def _is_org_admin(access: Access, organization_id: UUID) -> bool:
    role = access.org_role(organization_id)
    return role is not None and role.at_least(OrgRole.ADMIN)


async def _sent_by_an_admin(session: AsyncSession, invitation: Invitation) -> bool:
    """Whether whoever sent the invitation is (still) an admin of its organization."""
    if invitation.invited_by is None:
        return False
    sender = await session.get(
        OrganizationMembership, (invitation.organization_id, invitation.invited_by)
    )
    return sender is not None and sender.role.at_least(OrgRole.ADMIN)


def _described(invitation: Invitation) -> dict[str, object]:
    return {
        "email": invitation.email,
        "org_role": invitation.org_role,
        "workspace_id": invitation.target_workspace_id,
        "workspace_role": invitation.workspace_role,
        "expires_at": invitation.expires_at,
    }


def _may_see(access: Access, invitation: Invitation) -> bool:
    """An invitation into a workspace exists only for those who reach that workspace."""
    org_role = access.org_role(invitation.organization_id)
    if org_role is not None and org_role.at_least(OrgRole.ADMIN):
        return True
    if invitation.target_workspace_id is not None:
        return access.workspace_role(invitation.target_workspace_id) is not None
    return access.sees_organization(invitation.organization_id)


def _may_manage(access: Access, invitation: Invitation) -> bool:
    if _is_org_admin(access, invitation.organization_id):
        return True
    if invitation.org_role is None and invitation.target_workspace_id is not None:
        role = access.workspace_role(invitation.target_workspace_id)
        return role is not None and role.at_least(WorkspaceRole.ADMIN)
    return False


async def revoke_invitation(
    session: AsyncSession, access: Access, invitation_id: UUID
) -> Invitation:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or not _may_see(access, invitation):
        raise NotFound("Invitation", field="id")
    if not _may_manage(access, invitation):
        raise Forbidden("Only the admins who could invite may revoke.", field="id")
    access.require_writable()
    before = {"revoked_at": invitation.revoked_at}
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = utcnow()
        await session.flush()
    await audit.record(
        session,
        organization_id=invitation.organization_id,
        action=AuditAction.INVITATION_REVOKE,
        subject_type="Invitation",
        subject_id=invitation.id,
        changes=changes_of(before, {"revoked_at": invitation.revoked_at}),
    )
    return invitation


def _pending() -> Select[Invitation]:
    return select(Invitation).where(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow(),
    )


async def pending_invitations(
    session: AsyncSession, access: Access, organization_id: UUID
) -> list[Invitation]:
    """What the caller may manage: all of an org's (org ADMIN) or their workspaces' guests."""
    rows = (
        await session.scalars(
            _pending()
            .where(Invitation.organization_id == organization_id)
            .order_by(Invitation.created_at, Invitation.id)
        )
    ).all()
    return [row for row in rows if _may_manage(access, row)]


async def pending_invitations_by_ids(
    session: AsyncSession, access: Access, ids: Iterable[UUID]
) -> list[Invitation]:
    """Those of these ids that ``pending_invitations`` shows the caller."""
    rows = (await session.scalars(_pending().where(Invitation.id.in_(list(ids))))).all()
    return [row for row in rows if _may_manage(access, row)]


async def usable_invitation(session: AsyncSession, secret: str) -> tuple[Invitation, Organization]:
    """The invitation behind a link, locked; InvitationUnusable says why not."""
    if not secret.startswith(INVITATION_PREFIX) or len(secret) > 200:
        raise InvitationUnusable("This invitation link is not valid.")
    invitation = await session.scalar(
        select(Invitation).where(Invitation.secret_hash == _hash(secret)).with_for_update()
    )
    if invitation is None:
        raise InvitationUnusable("This invitation link is not valid.")
    if invitation.revoked_at is not None:
        raise InvitationUnusable("This invitation was withdrawn.")
    if invitation.accepted_at is not None:
        raise InvitationUnusable("This invitation was already used.")
    if invitation.expires_at <= utcnow():
        raise InvitationUnusable("This invitation has expired. Ask for a new one.")
    organization = await session.get(Organization, invitation.organization_id)
    assert organization is not None
    return invitation, organization


async def accept(
    session: AsyncSession, invitation: Invitation, *, signed_in_as: UUID | None
) -> tuple[User, bool]:
    """Spend the invitation: the person's account (new if need be) and their roles; and
    whether the account was created.

    The link proves nothing about an existing account (whoever invited holds it too):
    an existing account is attached only as ``linking.existing_account`` allows, else
    ``ControlNotShown`` and the invitation stays unspent. Roles only grow: accepting
    never lowers a role the person already holds.
    """
    by_admin = await _sent_by_an_admin(session, invitation)
    user = await linking.existing_account(
        session,
        email=invitation.email,
        organization_id=invitation.organization_id,
        signed_in_as=signed_in_as,
        # The organization's domain vouches only when the organization invites; a link
        # held by a workspace admin opens no existing account by the address alone.
        domain_counts=by_admin,
    )
    if (
        user is not None
        and not by_admin
        and await TenancyRepository(session).belongs_to_organization(
            invitation.organization_id, user.id, besides=invitation.target_workspace_id
        )
    ):
        # Checked again here: the person may have joined since the link was sent, and
        # the session this opens would act with everything they hold here.
        raise InvitationUnusable(
            "You already belong to this organization: ask one of its admins to invite you."
        )
    created = user is None
    if user is None:
        user = User(email=invitation.email, name="")
        session.add(user)
        await session.flush()
    if not user.is_active:
        raise InvitationUnusable("This account is deactivated.")
    granted: dict[str, object] = {}
    if invitation.org_role is not None:
        member = await session.get(OrganizationMembership, (invitation.organization_id, user.id))
        if member is None:
            session.add(
                OrganizationMembership(
                    organization_id=invitation.organization_id,
                    user_id=user.id,
                    role=invitation.org_role,
                )
            )
            granted["org_role"] = invitation.org_role
        elif not member.role.at_least(invitation.org_role):
            member.role = invitation.org_role
            granted["org_role"] = invitation.org_role
    if invitation.target_workspace_id is not None and invitation.workspace_role is not None:
        workspace = await session.get(Workspace, invitation.target_workspace_id)
        if workspace is None:
            raise InvitationUnusable("The workspace of this invitation no longer exists.")
        membership = await session.scalar(
            select(WorkspaceMembership).where(
                WorkspaceMembership.workspace_id == workspace.id,
                WorkspaceMembership.user_id == user.id,
            )
        )
        if membership is None:
            session.add(
                WorkspaceMembership(
                    workspace_id=workspace.id, user_id=user.id, role=invitation.workspace_role
                )
            )
            granted["workspace_role"] = invitation.workspace_role
        else:
            best = strongest(membership.role, invitation.workspace_role)
            assert best is not None
            if best is not membership.role:
                membership.role = best
                granted["workspace_role"] = best
    invitation.accepted_at = utcnow()
    invitation.accepted_by = user.id
    await session.flush()
    await audit.record(
        session,
        organization_id=invitation.organization_id,
        action=AuditAction.INVITATION_ACCEPT,
        subject_type="Invitation",
        subject_id=invitation.id,
        changes=changes_of(
            {"accepted_at": None},
            {"accepted_at": invitation.accepted_at, "account_created": created, **granted},
        ),
    )
    return user, created
