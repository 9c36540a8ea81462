"""Authenticating a bearer API token into the subject it stands for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from backend.auth import last_use, repository
from backend.auth.refusal import Refusal, refusal_of
from backend.auth.subject import PersonalToken
from backend.auth.tokens import hash_secret, looks_like_token
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models import ApiToken


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authenticate_token(db: Database, plaintext: str) -> PersonalToken | None:
    """The subject a live token stands for, or None for a bad, revoked or expired one.

    It opens its own transactions, as the entry point of a request: the token is looked
    up before any tenant is known (bound by its hash alone), and its last use is stamped
    in a short write of its own so a read request never holds a write lock.
    """
    if not looks_like_token(plaintext):
        return None
    now = utcnow()
    async with db.connection(TenantBinding(secret_hash=hash_secret(plaintext))) as connection:
        found = await find_live_token(connection, plaintext, now)
    if found is None:
        return None
    await note_use(db, found, now)
    return found.subject


@dataclass(frozen=True)
class LiveToken:
    subject: PersonalToken
    last_used_at: datetime | None
    expires_at: datetime | None


async def find_live_token(
    connection: AsyncConnection, plaintext: str, now: datetime
) -> LiveToken | None:
    """A live token and its user, in one statement on any connection (tokens and users
    are not workspace rows); None for an unknown, revoked or expired token or an
    inactive user."""
    row = await repository.token_and_user(connection, hash_secret(plaintext))
    return None if row is None else live_token(row, now)


def live_token(row: repository.TokenAndUser, now: datetime) -> LiveToken | None:
    """The token ``row`` describes, if it is live: not revoked, not expired, its user
    active."""
    if (
        row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
        or not row.is_active
    ):
        return None
    subject = PersonalToken(
        user_id=row.user_id,
        email=row.email,
        token_id=row.id,
        workspace_id=row.restricted_workspace_id,
        organization_id=row.restricted_organization_id,
        read_only=row.read_only,
    )
    return LiveToken(subject, row.last_used_at, row.expires_at)


async def note_use(db: Database, token: LiveToken, now: datetime) -> None:
    """Stamp the token's last use, at most once a minute (its own short write)."""
    if last_use.is_due(token.last_used_at, now):
        owner = TenantBinding(account_id=token.subject.user_id)
        await last_use.stamp(db, ApiToken, token.subject.token_id, "last_used_at", now, owner)


_JUST_BEFORE = timedelta(microseconds=1)


async def token_refusal(db: Database, plaintext: str) -> Refusal:
    """Why a bearer token was refused (read only after it was: a failed request's cost)."""
    if not looks_like_token(plaintext):
        return Refusal.INVALID
    now = utcnow()
    async with db.connection(TenantBinding(secret_hash=hash_secret(plaintext))) as connection:
        row = await repository.token_and_user(connection, hash_secret(plaintext))
    if row is None or row.expires_at is None or row.expires_at > now:
        return Refusal.INVALID
    # Expired: it would have been live just before its expiry (the one rule, live_token).
    return refusal_of(live_token(row, row.expires_at - _JUST_BEFORE) is not None)
