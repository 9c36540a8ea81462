"""The account an identity provider's sign-in lands in: found, linked or provisioned.

An identity already linked signs in as its account; otherwise an existing account is
reached only by the rules of ``backend/auth/linking.py`` (or by the signed-in account
that asked to link it), and a new one is provisioned with the organization's default
roles on a first sign-in.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth import domains, linking, repository
from backend.auth.sessions import open_session
from backend.auth.sign_in import Client, SignedIn, SignInRefused, client_actor
from backend.auth.tokens import identity_hash
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models import (
    OrganizationMembership,
    SsoConnection,
    SsoLoginAttempt,
    User,
    UserIdentity,
    WorkspaceMembership,
)
from backend.settings import Settings
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import OrgRole


async def sign_in(
    db: Database,
    settings: Settings,
    connection: SsoConnection,
    claims: dict[str, Any],
    email: str,
    attempt: SsoLoginAttempt,
    client: Client,
) -> SignedIn:
    # The default workspaces are bound so row-level security lets their memberships in.
    workspace_ids = frozenset(UUID(i) for i in connection.default_workspace_ids)
    binding = TenantBinding(
        workspace_ids,
        organization_ids=frozenset({connection.organization_id}),
        secret_hash=identity_hash(connection.issuer, str(claims["sub"])),
    )
    async with db.transaction(binding, write=True) as session:
        # The organization owns the address's domain: its provider vouches for the mailbox.
        vouched = await _domain_is_verified(session, settings, connection, email)
        identity = await session.get(UserIdentity, (connection.issuer, str(claims["sub"])))
        user = await session.get(User, identity.user_id) if identity else None
        if user is None and attempt.linking_user_id is not None:
            user = await session.get(User, attempt.linking_user_id)
            if user is None or user.email != email:
                raise SignInRefused(
                    f"The identity provider signed you in as {email}, not as the account "
                    "you asked to link."
                )
        elif user is None:
            try:
                user = await linking.existing_account(
                    session,
                    email=email,
                    organization_id=connection.organization_id,
                    signed_in_as=None,
                )
            except linking.ControlNotShown:
                raise SignInRefused(
                    f"A Waypost account for {email} already exists and is not linked to "
                    "this sign-in. Sign in to it the way you usually do, then link this "
                    "organization's sign-in from there."
                ) from None
        elif attempt.linking_user_id is not None and attempt.linking_user_id != user.id:
            raise SignInRefused("This sign-in is already linked to another Waypost account.")
        provisioned = user is None
        if user is None:
            user = User(email=email, name=str(claims.get("name") or "")[:200])
            session.add(user)
            await session.flush()
        if not user.is_active:
            raise SignInRefused("This account is deactivated.")
        ended = 0
        if vouched and identity is None and not provisioned:
            ended = await linking.end_unproven_credentials(session, user)
        elif vouched and user.email_verified_at is None:
            user.email_verified_at = utcnow()
        if identity is None:
            session.add(
                UserIdentity(issuer=connection.issuer, subject=str(claims["sub"]), user_id=user.id)
            )
        audit.bind_actor(session, client_actor(user.id, client))
        granted = await _first_login_roles(session, connection, user.id)
        opened = await open_session(
            session,
            settings,
            user_id=user.id,
            organization_id=connection.organization_id,
            ip=client.ip,
            user_agent=client.user_agent,
        )
        await audit.record(
            session,
            organization_id=connection.organization_id,
            action=AuditAction.SESSION_SIGN_IN,
            subject_type="UserSession",
            subject_id=opened.id,
            changes=changes_of(
                {},
                {
                    "user_id": str(user.id),
                    "email": email,
                    "sso_connection_id": str(connection.id),
                    "provisioned": provisioned,
                    "linked": identity is None,
                    "earlier_credentials_ended": ended,
                    "granted": granted,
                },
            ),
        )
    return SignedIn(user.id, opened, attempt.return_to, provisioned)


async def _domain_is_verified(
    session: AsyncSession, settings: Settings, connection: SsoConnection, email: str
) -> bool:
    """Whether the organization verified the address's domain; if not, the sign-in is
    refused (unless development allows unverified domains). Checked at every sign-in: a
    domain whose claim was removed admits no one."""
    if domains.domain_of(email) in await domains.verified_domains(
        session, connection.organization_id
    ):
        return True
    if settings.sso_allow_unverified_domains:
        return False
    raise SignInRefused(
        f"This organization has not verified the domain of {email}, so its sign-in cannot admit it."
    )


async def _first_login_roles(
    session: AsyncSession, connection: SsoConnection, user_id: UUID
) -> dict[str, str]:
    """On a user's first sign-in to this organization: org MEMBER and the default role."""
    member = await session.get(OrganizationMembership, (connection.organization_id, user_id))
    if member is not None:
        return {}
    session.add(
        OrganizationMembership(
            organization_id=connection.organization_id, user_id=user_id, role=OrgRole.MEMBER
        )
    )
    granted = {"organization": OrgRole.MEMBER.value}
    workspaces = await repository.workspaces_of_organization(
        session, connection.organization_id, [UUID(i) for i in connection.default_workspace_ids]
    )
    for workspace_id in workspaces:
        existing = await repository.workspace_membership(session, workspace_id, user_id)
        if existing is None:
            session.add(
                WorkspaceMembership(
                    workspace_id=workspace_id, user_id=user_id, role=connection.default_role
                )
            )
            granted[str(workspace_id)] = connection.default_role.value
    await session.flush()
    return granted
