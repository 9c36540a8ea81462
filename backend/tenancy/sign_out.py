"""Signing a caller out of every browser, within the organization they act in."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.types import utcnow
from backend.models import UserSession
from backend.vocabulary.audit import AuditAction


async def sign_out_everywhere(
    session: AsyncSession, access: Access, *, keep_this_session: bool
) -> int:
    """End every browser session of the caller (but the asking one, if so wished).

    A caller acting in one organization ends only the sessions opened through it: a
    session an organization opened (its SSO for a domain it manages, say) must not sign
    the person out of the others.
    """
    access.require_writable()
    keep = access.session_id if keep_this_session else None
    statement = update(UserSession).where(
        UserSession.user_id == access.user_id, UserSession.revoked_at.is_(None)
    )
    if access.organization_limit is not None:
        statement = statement.where(UserSession.organization_id == access.organization_limit)
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    result = await session.execute(statement.values(revoked_at=utcnow()))
    ended = int(getattr(result, "rowcount", 0) or 0)
    await audit.record(
        session,
        user_id=access.user_id,
        action=AuditAction.SESSION_SIGN_OUT_EVERYWHERE,
        subject_type="User",
        subject_id=access.user_id,
        changes=changes_of({}, {"sessions_ended": ended}),
    )
    return ended
