"""Browser sessions: kept server-side (so one can be ended at once), found by a cookie.

The cookie holds a random secret whose hash is stored, as for API tokens. A session
ends when revoked, after ``session_idle_timeout_seconds`` without use, and in any
case ``session_absolute_timeout_seconds`` after sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import last_use, repository
from backend.auth.refusal import Refusal, refusal_of
from backend.auth.subject import BrowserSession, Subject
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.models import User, UserSession
from backend.settings import Settings

SESSION_COOKIE = "waypost_session"
CSRF_COOKIE = "waypost_csrf"  # readable by the page, which echoes it in CSRF_HEADER
CSRF_HEADER = "x-waypost-csrf"
SESSION_PREFIX = "wps_"


@dataclass(frozen=True)
class NewSession:
    id: UUID
    secret: str  # for the cookie; only its hash is kept
    csrf_token: str
    expires_at: datetime


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def open_session(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: UUID,
    organization_id: UUID,
    ip: str | None,
    user_agent: str | None,
) -> NewSession:
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        user_id=user_id,
        organization_id=organization_id,
        secret_hash=_hash(secret),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_absolute_timeout_seconds),
        ip=ip,
        user_agent=(user_agent or "")[:500] or None,
    )
    session.add(row)
    await session.flush()
    return NewSession(row.id, secret, row.csrf_token, row.expires_at)


async def authenticate_session(
    db: Database, settings: Settings, secret: str
) -> BrowserSession | None:
    """The subject of a live session, or None for an unknown, ended or expired one.

    Like ``authenticate_token`` it is an entry point's first step and owns its
    transactions: the lookup is bound by the cookie's hash alone (no tenant is known
    yet), and the last-seen stamp is its own short write (see ``last_use``).
    """
    if not secret.startswith(SESSION_PREFIX) or not 20 < len(secret) < 200:
        return None
    now = utcnow()
    idle = timedelta(seconds=settings.session_idle_timeout_seconds)
    presented = TenantBinding(secret_hash=_hash(secret))
    async with db.transaction(presented) as session:
        row = await repository.session_and_user(session, _hash(secret))
    if row is None:
        return None
    found, user = row
    if not _live(found, user, now, idle):
        return None
    if last_use.is_due(found.last_seen_at, now):
        await last_use.stamp(db, UserSession, found.id, "last_seen_at", now, presented)
    return BrowserSession(
        user_id=user.id,
        email=user.email,
        session_id=found.id,
        csrf_token=found.csrf_token,
        organization_id=found.organization_id,
    )


def _live(found: UserSession, user: User, now: datetime, idle: timedelta) -> bool:
    """A session signs its user in: not ended, within both timeouts, the user active."""
    return (
        found.revoked_at is None
        and now < found.expires_at
        and now < found.last_seen_at + idle
        and user.is_active
    )


async def session_refusal(db: Database, settings: Settings, secret: str) -> Refusal:
    """Why a session cookie was refused: EXPIRED when it timed out (idle or in any case)
    rather than being ended or unknown (read only after it was: a failed request's cost)."""
    if not secret.startswith(SESSION_PREFIX) or not 20 < len(secret) < 200:
        return Refusal.INVALID
    idle = timedelta(seconds=settings.session_idle_timeout_seconds)
    async with db.transaction(TenantBinding(secret_hash=_hash(secret))) as session:
        row = await repository.session_and_user(session, _hash(secret))
    if row is None:
        return Refusal.INVALID
    found, user = row
    # Expired: it would have been live just before its first timeout ran out.
    ran_out = min(found.expires_at, found.last_seen_at + idle)
    return refusal_of(
        ran_out <= utcnow() and _live(found, user, ran_out - timedelta(microseconds=1), idle)
    )


async def end_sessions(
    session: AsyncSession,
    *,
    user_id: UUID,
    session_id: UUID | None = None,
    organization_id: UUID | None = None,
) -> int:
    """End one session of a user, those opened through one organization, or all of them."""
    return await repository.revoke_sessions(
        session, utcnow(), user_id=user_id, session_id=session_id, organization_id=organization_id
    )


def csrf_matches(subject: Subject, presented: str | None) -> bool:
    """A cookie-borne session proves the request came from our page; others need not."""
    if not isinstance(subject, BrowserSession):
        return True
    return bool(
        presented
        and subject.csrf_token
        and secrets.compare_digest(presented.encode(), subject.csrf_token.encode())
    )
