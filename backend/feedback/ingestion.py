"""Ingestion tokens: one workspace each, feedback only, for ``POST /ingest/v1/feedback``.

Items sent with one attach to their touchpoint by match keys (event name, URL,
survey id), the way machines know a touchpoint; they name no ids. How such a body is
read is ``backend.feedback.wire``'s.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.errors import NotFound
from backend.feedback.repository import FeedbackRepository
from backend.models import IngestionToken
from backend.validation import required_text
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import WorkspaceRole

TOKEN_PREFIX = "wpin_"  # noqa: S105 - a public marker, not a secret


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedIngestionToken:
    token: IngestionToken
    secret: str


async def create_token(
    session: AsyncSession, access: Access, workspace_id: UUID, name: str
) -> IssuedIngestionToken:
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IngestionToken(
        ingest_workspace_id=workspace_id,
        name=required_text(name, field="name"),
        prefix=secret[:12],
        secret_hash=_hash(secret),
        created_by=access.user_id,
    )
    await FeedbackRepository(session).add_token(token)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.INGESTION_TOKEN_CREATE,
        subject_type="IngestionToken",
        subject_id=token.id,
        changes=changes_of({}, {"name": token.name, "prefix": token.prefix}),
    )
    return IssuedIngestionToken(token, secret)


async def revoke_token(session: AsyncSession, access: Access, token_id: UUID) -> IngestionToken:
    repository = FeedbackRepository(session)
    token = await repository.token(token_id)
    if token is None or access.workspace_role(token.ingest_workspace_id) is None:
        raise NotFound("Ingestion token", field="id")
    access.require_workspace(token.ingest_workspace_id, WorkspaceRole.ADMIN, field="id")
    before = {"revoked_at": token.revoked_at}
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await repository.flush()
    await audit.record(
        session,
        workspace_id=token.ingest_workspace_id,
        action=AuditAction.INGESTION_TOKEN_REVOKE,
        subject_type="IngestionToken",
        subject_id=token.id,
        changes=changes_of(before, {"revoked_at": token.revoked_at}),
    )
    return token


async def tokens_of(session: AsyncSession, workspace_id: UUID) -> list[IngestionToken]:
    return await FeedbackRepository(session).tokens_of(workspace_id)


def presenting(secret: str) -> TenantBinding | None:
    """The binding of the transaction that looks up the token a secret names (row-level
    security shows that row and no other), or None for what cannot be one."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    return TenantBinding(secret_hash=_hash(secret))


async def authenticate(session: AsyncSession, secret: str) -> IngestionToken | None:
    """The live token behind a secret, in a transaction bound by ``presenting(secret)``."""
    if presenting(secret) is None:
        return None
    token = await FeedbackRepository(session).token_by_secret_hash(_hash(secret))
    if token is None or token.revoked_at is not None:
        return None
    return token
