"""Which existing account a sign-in may act as: never one proven by an email address alone.

An invitation or an SSO login names an email. When no account has that email, the
sign-in creates one. When one does, the sign-in attaches to it only if the person has
shown they already control it:
- they are signed in as that account in the same browser (a live session), or
- the SSO identity (issuer + subject) was linked to it before (checked by the caller), or
- the organization has verified the email's domain by DNS, and so manages the accounts
  at that domain; even then never the account of that organization's owner, whom an
  admin must not be able to become.
An account that is *dormant* (nobody ever signed in to it or held a credential of it:
made when an admin added an address) is as good as none, so a squatter cannot lock a
person out of their own address.
Anything else is refused, and nothing is written.

The first time the organization owning the address's domain vouches for the account
(its SSO signs the person in), credentials issued before that proof end
(``end_unproven_credentials``): whoever redeemed a link for a future colleague keeps
nothing of theirs.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import domains, repository
from backend.db.types import utcnow
from backend.models import (
    User,
)


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
    user = await repository.user_by_email(session, email)
    if user is None:
        return None
    if (
        signed_in_as == user.id
        or (domain_counts and await organization_manages(session, organization_id, user))
        or await is_dormant(session, user)
    ):
        return user
    raise ControlNotShown(email)


async def is_dormant(session: AsyncSession, user: User) -> bool:
    """Nobody has ever shown control of the account, signed in to it or held a credential
    of it: it is only an address someone was added under."""
    if user.email_verified_at is not None:
        return False
    return not await repository.holds_any_credential(session, user.id)


async def end_unproven_credentials(session: AsyncSession, user: User) -> int:
    """The address's owner vouches for the account for the first time: end what was
    issued before (sessions, tokens, linked identities), all made by link holders.

    Returns how many credentials ended; marks the address proven.
    """
    ended = 0
    if user.email_verified_at is None:
        now = utcnow()
        ended = await repository.end_all_credentials(session, user.id, now)
        user.email_verified_at = now
    return ended


async def organization_manages(session: AsyncSession, organization_id: UUID, user: User) -> bool:
    """The organization verified the account's email domain, and the account is not its
    owner."""
    if await domains.verified_owner(session, domains.domain_of(user.email)) != organization_id:
        return False
    return not await repository.owns_organization(session, organization_id, user.id)
