"""An organization's SSO connections as sign-in reads them: listed, and their secret.

The client secret is stored encrypted (``backend/tenancy/sso_connections.py`` writes
it) and never leaves this module in clear except to the token request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.crypto.encryption import decrypt
from backend.models import SsoConnection
from backend.settings import Settings

SECRET_PURPOSE = "sso client secret"  # noqa: S105 - a key-derivation label


def client_secret(settings: Settings, connection: SsoConnection) -> str:
    return decrypt(settings.secret_key, SECRET_PURPOSE, connection.client_secret_encrypted)


async def connections_of(session: AsyncSession, organization_id: UUID) -> Sequence[SsoConnection]:
    return (
        await session.scalars(
            select(SsoConnection)
            .where(SsoConnection.organization_id == organization_id)
            .order_by(SsoConnection.created_at, SsoConnection.id)
        )
    ).all()


async def connections_by_ids(session: AsyncSession, ids: Iterable[UUID]) -> Sequence[SsoConnection]:
    """The connections of these ids the session's binding shows (whatever their organization)."""
    return (
        await session.scalars(select(SsoConnection).where(SsoConnection.id.in_(list(ids))))
    ).all()
