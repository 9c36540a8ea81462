"""Which existing account a sign-in may act as: never one proven by an email address alone.

An invitation or an SSO login names an email. When no account has that email, the
sign-in creates one. When one does, the sign-in attaches to it only if the person has
shown they already control it:
- they are signed in as that account in the same browser (a live session), or
- the SSO identity (issuer + subject) was linked to it before (checked by the caller), or
- the organization has verified the email's domain by DNS, and so manages the accounts
  at that domain; even then never the account of that organization's owner, whom an
  admin must not be able to become.
Anything else is refused, and nothing is written.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import domains
from backend.authz.roles import OrgRole
from backend.models import OrganizationMembership, User


class ControlNotShown(Exception):
    """An account with this email exists, and nothing shows the person controls it."""

    def __init__(self, email: str) -> None:
        super().__init__(
            f"A Waypost account for {email} already exists. Sign in to it first, "
            "then open this link again."
        )
        self.reason = str(self)


async def existing_account(
    session: AsyncSession,
    *,
    email: str,
    organization_id: UUID,
    signed_in_as: UUID | None,
    domain_counts: bool = True,
) -> User | None:
    """The account with ``email`` this person may act as; None if there is none.

    ``domain_counts``: whether the organization's verified domain may vouch here; only
    when the organization itself speaks (its SSO, an invitation from one of its admins),
    never for a link a workspace admin holds.
    Raises ``ControlNotShown`` when the account exists but may not be attached.
    """
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        return None
    if signed_in_as == user.id or (
        domain_counts and await organization_manages(session, organization_id, user)
    ):
        return user
    raise ControlNotShown(email)


async def organization_manages(session: AsyncSession, organization_id: UUID, user: User) -> bool:
    """The organization verified the account's email domain, and the account is not its
    owner."""
    if await domains.verified_owner(session, domains.domain_of(user.email)) != organization_id:
        return False
    owner = await session.scalar(
        select(OrganizationMembership.user_id).where(
            OrganizationMembership.organization_id == organization_id,
            OrganizationMembership.user_id == user.id,
            OrganizationMembership.role == OrgRole.OWNER,
        )
    )
    return owner is None
