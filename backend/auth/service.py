"""Authenticating a bearer API token into a Principal."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth import last_use
from backend.auth.principal import Principal
from backend.auth.tokens import hash_secret, looks_like_token
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.models import ApiToken, User


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authenticate_token(db: Database, plaintext: str) -> Principal | None:
    """The principal a live token stands for, or None for a bad, revoked or expired one."""
    if not looks_like_token(plaintext):
        return None
    now = utcnow()
    async with db.transaction(NO_TENANT) as session:
        row = (
            await session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.secret_hash == hash_secret(plaintext))
            )
        ).one_or_none()
    if row is None:
        return None
    token, user = row
    if (
        token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not user.is_active
    ):
        return None
    if last_use.is_due(token.last_used_at, now):
        await last_use.stamp(db, ApiToken, token.id, "last_used_at", now)
    return Principal(
        user_id=user.id,
        email=user.email,
        token_id=token.id,
        restricted_workspace_id=token.restricted_workspace_id,
        read_only=token.read_only,
    )
