"""An organization's SSO connections: created, changed and disabled by its ADMINs.

The client secret is encrypted before it is stored; audit events record that it
changed, not what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth import domains
from backend.auth.connections import SECRET_PURPOSE
from backend.auth.oidc import OidcClient, OidcError
from backend.authz.access import Access
from backend.crypto.encryption import encrypt
from backend.errors import NotFound, ValidationFailed
from backend.models import SsoConnection, Workspace
from backend.net.outbound import url_refusal
from backend.settings import Settings
from backend.tenancy.commands import ChangeSsoConnection, CreateSsoConnection
from backend.validation import Checks, no_control_characters, required_text
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import OrgRole

MIN_SECRET_LENGTH = 8
MAX_DOMAINS = 50
# What an audit event shows of a secret.
_HIDDEN = "(hidden)"


def _issuer(value: str, settings: Settings) -> str:
    if len(value) > 500:
        raise ValidationFailed("Must be at most 500 characters.", field="issuer")
    cleaned = no_control_characters(value, field="issuer").strip().rstrip("/")
    # https, a public address (or an allowed one; only those over plain http, and never in
    # production): the outbound rules, as far as they can be told before discovery.
    refusal = url_refusal(settings, cleaned)
    if refusal is not None:
        raise ValidationFailed(f"The issuer {refusal}.", field="issuer")
    return cleaned


def _domains(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_DOMAINS:  # before any work on them
        raise ValidationFailed(f"At most {MAX_DOMAINS} domains.", field="allowed_domains")
    with Checks() as check:  # every bad domain at once
        named = [
            check(domains.email_domain, value, field=f"allowed_domains[{index}]")
            for index, value in enumerate(values)
        ]
    cleaned = list(dict.fromkeys(named))
    if not cleaned:
        raise ValidationFailed(
            "Name at least one email domain whose people may sign in.", field="allowed_domains"
        )
    return cleaned


async def _require_verified(
    session: AsyncSession, settings: Settings, connection: SsoConnection
) -> None:
    """An enabled connection may only let in people of domains the organization proved
    it owns; otherwise any admin could claim another company's domain for their provider.
    """
    if not connection.enabled or settings.sso_allow_unverified_domains:
        return
    verified = await domains.verified_domains(session, connection.organization_id)
    for index in domains.unverified(connection.allowed_domains, verified):
        raise ValidationFailed(
            f"Verify {connection.allowed_domains[index]} for this organization first "
            "(claimDomain, then a DNS TXT record and verifyDomain).",
            field=f"allowed_domains[{index}]",
        )


def _client_id(value: str) -> str:
    return required_text(value, field="client_id", max_length=255)


def _secret(value: str) -> str:
    if len(value) < MIN_SECRET_LENGTH or len(value) > 2000 or value != value.strip():
        raise ValidationFailed(
            f"The client secret must be {MIN_SECRET_LENGTH} to 2000 characters, without "
            "surrounding spaces.",
            field="client_secret",
        )
    return value


async def _workspaces(
    session: AsyncSession, organization_id: UUID, ids: Sequence[UUID]
) -> list[str]:
    found = set(
        (
            await session.scalars(
                select(Workspace.id).where(
                    Workspace.organization_id == organization_id, Workspace.id.in_(ids)
                )
            )
        ).all()
    )
    for index, workspace_id in enumerate(ids):
        if workspace_id not in found:
            raise NotFound("Workspace", field=f"default_workspace_ids[{index}]")
    return list(dict.fromkeys(str(i) for i in ids))


async def _check_discovery(oidc: OidcClient, issuer: str) -> None:
    try:
        await oidc.metadata(issuer)
    except OidcError as error:
        raise ValidationFailed(f"OpenID discovery failed: {error.reason}", field="issuer") from None


def _audited(connection: SsoConnection) -> dict[str, Any]:
    return {
        "issuer": connection.issuer,
        "client_id": connection.client_id,
        "client_secret": _HIDDEN,
        "allowed_domains": list(connection.allowed_domains),
        "default_role": connection.default_role,
        "default_workspace_ids": list(connection.default_workspace_ids),
        "enabled": connection.enabled,
    }


async def create_connection(
    session: AsyncSession,
    access: Access,
    settings: Settings,
    oidc: OidcClient,
    command: CreateSsoConnection,
) -> SsoConnection:
    organization_id = command.organization_id
    access.require_organization(organization_id, OrgRole.ADMIN, field="organization_id")
    with Checks() as check:  # every field's mistake at once, in the input's order
        issuer = check(_issuer, command.issuer, settings)
        client_id = check(_client_id, command.client_id)
        secret = check(_secret, command.client_secret)
        allowed_domains = check(_domains, command.allowed_domains)
    connection = SsoConnection(
        organization_id=organization_id,
        issuer=issuer,
        client_id=client_id,
        client_secret_encrypted=encrypt(settings.secret_key, SECRET_PURPOSE, secret),
        allowed_domains=allowed_domains,
        default_role=command.default_role,
        default_workspace_ids=await _workspaces(
            session, organization_id, command.default_workspace_ids
        ),
        enabled=True,
    )
    taken = await session.scalar(
        select(SsoConnection.id).where(
            SsoConnection.organization_id == organization_id, SsoConnection.issuer == issuer
        )
    )
    if taken is not None:
        raise ValidationFailed(
            "This organization already has a connection to this issuer.", field="issuer"
        )
    await _require_verified(session, settings, connection)
    await _check_discovery(oidc, issuer)
    session.add(connection)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action=AuditAction.SSO_CONNECTION_CREATE,
        subject_type="SsoConnection",
        subject_id=connection.id,
        changes=changes_of({}, _audited(connection)),
    )
    return connection


async def _administered(
    session: AsyncSession, access: Access, connection_id: UUID
) -> SsoConnection:
    connection = await session.get(SsoConnection, connection_id)
    # Another organization's connection is indistinguishable from none.
    if connection is None or not access.sees_organization(connection.organization_id):
        raise NotFound("SSO connection", field="id")
    access.require_organization(connection.organization_id, OrgRole.ADMIN, field="id")
    return connection


async def update_connection(
    session: AsyncSession,
    access: Access,
    settings: Settings,
    connection_id: UUID,
    changes: ChangeSsoConnection,
) -> SsoConnection:
    connection = await _administered(session, access, connection_id)
    before = _audited(connection)
    with Checks() as check:
        client_id = secret = allowed_domains = None
        if changes.client_id is not None:
            client_id = check(_client_id, changes.client_id)
        if changes.client_secret is not None:
            secret = check(_secret, changes.client_secret)
        if changes.allowed_domains is not None:
            allowed_domains = check(_domains, changes.allowed_domains)
    if client_id is not None:
        connection.client_id = client_id
    if secret is not None:
        connection.client_secret_encrypted = encrypt(settings.secret_key, SECRET_PURPOSE, secret)
    if allowed_domains is not None:
        connection.allowed_domains = allowed_domains
    if changes.default_role is not None:
        connection.default_role = changes.default_role
    if changes.default_workspace_ids is not None:
        connection.default_workspace_ids = await _workspaces(
            session, connection.organization_id, changes.default_workspace_ids
        )
    if changes.enabled is not None:
        connection.enabled = changes.enabled
    await _require_verified(session, settings, connection)
    after = _audited(connection)
    if changes.client_secret is not None:
        before["client_secret"], after["client_secret"] = _HIDDEN, "(replaced)"
    await session.flush()
    await audit.record(
        session,
        organization_id=connection.organization_id,
        action=AuditAction.SSO_CONNECTION_UPDATE,
        subject_type="SsoConnection",
        subject_id=connection.id,
        changes=changes_of(before, after),
    )
    return connection
