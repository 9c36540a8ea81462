"""Claiming, proving (DNS TXT) and dropping an organization's email domains: its ADMINs'.

What a verified domain allows is described in ``backend/auth/domains.py``.
"""

from __future__ import annotations

import secrets
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth import domains
from backend.authz.access import Access
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.models import OrganizationDomain
from backend.net.dns import DnsLookupFailed, txt_records
from backend.settings import Settings
from backend.tenancy.commands import ClaimDomain
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import OrgRole


async def claim_domain(
    session: AsyncSession, access: Access, command: ClaimDomain
) -> OrganizationDomain:
    """Record the organization's claim; it proves it later with ``verify_domain``."""
    organization_id = command.organization_id
    access.require_organization(organization_id, OrgRole.ADMIN, field="organization_id")
    domain = domains.email_domain(command.domain, field="domain")
    claims = await domains.claims_of(session, organization_id)
    if any(claim.domain == domain for claim in claims):
        raise ValidationFailed("This organization has already claimed this domain.", field="domain")
    if len(claims) >= domains.MAX_DOMAINS_PER_ORGANIZATION:
        raise ValidationFailed(
            f"An organization claims at most {domains.MAX_DOMAINS_PER_ORGANIZATION} domains.",
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
        action=AuditAction.DOMAIN_CLAIM,
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
    name = domains.record_name(claim.domain)
    try:
        found = await txt_records(settings, name)
    except DnsLookupFailed as failure:
        raise ValidationFailed(
            f"Could not look up {name}: {failure.reason}. Try again later.", field="id"
        ) from None
    if domains.record_value(claim) not in (value.strip() for value in found):
        raise ValidationFailed(
            f'No TXT record "{domains.record_value(claim)}" at {name} yet. DNS changes can take a '
            "while to show; try again later.",
            field="id",
        )
    if await domains.verified_owner(session, claim.domain) is not None:
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
        action=AuditAction.DOMAIN_VERIFY,
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
        action=AuditAction.DOMAIN_REMOVE,
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
