"""Email domains an organization claims and proves it owns with a DNS TXT record.

A verified domain is what lets an organization reach *existing* accounts by email
alone: its SSO may sign in, and its invitations may be accepted for, the accounts at
that domain (never an organization's owner: see ``backend/auth/linking.py``). Proof is
a TXT record at ``_waypost-verification.<domain>`` carrying the claim's random value;
a domain is verified by at most one organization, enforced by a unique index.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.models import OrganizationDomain
from backend.net.dns import DnsLookupFailed, txt_records
from backend.settings import Settings
from backend.vocabulary.roles import OrgRole

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


async def claim_domain(
    session: AsyncSession, access: Access, *, organization_id: UUID, domain: str
) -> OrganizationDomain:
    """Record the organization's claim; it proves it later with ``verify_domain``."""
    access.require_organization(organization_id, OrgRole.ADMIN, field="organizationId")
    domain = email_domain(domain, field="domain")
    claims = await claims_of(session, organization_id)
    if any(claim.domain == domain for claim in claims):
        raise ValidationFailed("This organization has already claimed this domain.", field="domain")
    if len(claims) >= MAX_DOMAINS_PER_ORGANIZATION:
        raise ValidationFailed(
            f"An organization claims at most {MAX_DOMAINS_PER_ORGANIZATION} domains.",
            field="domain",
        )
    claim = OrganizationDomain(
        organization_id=organization_id,
        domain=domain,
        verification_token=secrets.token_urlsafe(24),
    )
    session.add(claim)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action="domain.claim",
        subject_type="OrganizationDomain",
        subject_id=claim.id,
        changes=changes_of({}, {"domain": domain}),
    )
    return claim


async def verify_domain(
    session: AsyncSession, access: Access, settings: Settings, claim_id: UUID
) -> OrganizationDomain:
    """Look the TXT record up now; verified if it carries this claim's value."""
    claim = await _administered(session, access, claim_id)
    if claim.verified_at is not None:
        return claim
    name = record_name(claim.domain)
    try:
        found = await txt_records(settings, name)
    except DnsLookupFailed as failure:
        raise ValidationFailed(
            f"Could not look up {name}: {failure.reason}. Try again later.", field="id"
        ) from None
    if record_value(claim) not in (value.strip() for value in found):
        raise ValidationFailed(
            f'No TXT record "{record_value(claim)}" at {name} yet. DNS changes can take a '
            "while to show; try again later.",
            field="id",
        )
    if await verified_owner(session, claim.domain) is not None:
        raise ValidationFailed("Another organization has verified this domain.", field="id")
    claim.verified_at = claim.last_checked_at = utcnow()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # verified elsewhere at the same moment
        raise ValidationFailed(
            "Another organization has verified this domain.", field="id"
        ) from None
    await audit.record(
        session,
        organization_id=claim.organization_id,
        action="domain.verify",
        subject_type="OrganizationDomain",
        subject_id=claim.id,
        changes=changes_of({"verified_at": None}, {"verified_at": claim.verified_at}),
    )
    return claim


async def remove_domain(
    session: AsyncSession, access: Access, claim_id: UUID
) -> OrganizationDomain:
    """Drop a claim: the organization's SSO stops accepting people of that domain."""
    claim = await _administered(session, access, claim_id)
    await session.delete(claim)
    await session.flush()
    await audit.record(
        session,
        organization_id=claim.organization_id,
        action="domain.remove",
        subject_type="OrganizationDomain",
        subject_id=claim.id,
        changes=changes_of({"domain": claim.domain, "verified": claim.verified_at is not None}, {}),
    )
    return claim


async def _administered(
    session: AsyncSession, access: Access, claim_id: UUID
) -> OrganizationDomain:
    claim = await session.get(OrganizationDomain, claim_id)
    if claim is None or not access.sees_organization(claim.organization_id):
        raise NotFound("Domain", field="id")
    access.require_organization(claim.organization_id, OrgRole.ADMIN, field="id")
    return claim


async def claims_of(session: AsyncSession, organization_id: UUID) -> Sequence[OrganizationDomain]:
    return (
        await session.scalars(
            select(OrganizationDomain)
            .where(OrganizationDomain.organization_id == organization_id)
            .order_by(OrganizationDomain.domain)
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
