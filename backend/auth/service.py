"""Authenticating a bearer API token into a Principal."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select, update

from backend.auth.principal import Principal
from backend.auth.tokens import hash_secret, looks_like_token
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.models import ApiToken, User

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        await _touch(db, token.id, now)
    return Principal(
        user_id=user.id,
        email=user.email,
        token_id=token.id,
        restricted_workspace_id=token.restricted_workspace_id,
        read_only=token.read_only,
    )


async def _touch(db: Database, token_id: UUID, now: datetime) -> None:
    # Its own short write transaction, conditional so concurrent requests of the
    # same token write once; reads never hold a write lock (SQLite) this way.
    async with db.transaction(NO_TENANT, write=True) as session:
        await session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
