"""Email domains an organization claims and proves it owns with a DNS TXT record.

A verified domain is what lets an organization reach *existing* accounts by email
alone: its SSO may sign in, and its invitations may be accepted for, the accounts at
that domain (never an organization's owner: see ``backend/auth/linking.py``). Proof is
a TXT record at ``_waypost-verification.<domain>`` carrying the claim's random value;
a domain is verified by at most one organization, enforced by a unique index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import ValidationFailed
from backend.models import OrganizationDomain

RECORD_PREFIX = "_waypost-verification"
VALUE_PREFIX = "waypost-verification="
MAX_DOMAINS_PER_ORGANIZATION = 50
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def email_domain(value: str, *, field: str) -> str:
    """A domain as people write it (``@Example.com ``), or a located VALIDATION error."""
    if len(value) > 300:
        raise ValidationFailed("Not an email domain (like example.com).", field=field)
    domain = value.strip().lower().lstrip("@").rstrip(".")
    if not _DOMAIN.match(domain):
        raise ValidationFailed("Not an email domain (like example.com).", field=field)
    return domain


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[1].lower()


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def record_value(claim: OrganizationDomain) -> str:
    return VALUE_PREFIX + claim.verification_token


async def claims_of(session: AsyncSession, organization_id: UUID) -> Sequence[OrganizationDomain]:
    return (
        await session.scalars(
            select(OrganizationDomain)
            .where(OrganizationDomain.organization_id == organization_id)
            .order_by(OrganizationDomain.domain)
        )
    ).all()


async def claims_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[OrganizationDomain]:
    """The claims of these ids the session's binding shows (whoever claimed them)."""
    return (
        await session.scalars(
            select(OrganizationDomain).where(OrganizationDomain.id.in_(list(ids)))
        )
    ).all()


async def verified_domains(session: AsyncSession, organization_id: UUID) -> frozenset[str]:
    return frozenset(
        (
            await session.scalars(
                select(OrganizationDomain.domain).where(
                    OrganizationDomain.organization_id == organization_id,
                    OrganizationDomain.verified_at.is_not(None),
                )
            )
        ).all()
    )


async def verified_owner(session: AsyncSession, domain: str) -> UUID | None:
    """The organization that has verified ``domain``, if any (at most one can)."""
    owner: UUID | None = await session.scalar(
        select(OrganizationDomain.organization_id).where(
            OrganizationDomain.domain == domain, OrganizationDomain.verified_at.is_not(None)
        )
    )
    return owner


def unverified(domains: Iterable[str], verified: frozenset[str]) -> list[int]:
    """Positions of the domains not in ``verified``."""
    return [index for index, domain in enumerate(domains) if domain not in verified]
