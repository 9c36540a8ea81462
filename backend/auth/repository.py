"""The SQL of signing in: credentials (tokens, sessions), SSO attempts, accounts.

Functions take the session or connection of the caller's transaction; the callers
(``backend/auth`` services, entry points) decide the binding and the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Select, String, bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.db import driver
from backend.db.driver import DriverStatement
from backend.db.scoping import seeing_own_rows_of
from backend.models import (
    ApiToken,
    Organization,
    OrganizationMembership,
    SsoConnection,
    SsoLoginAttempt,
    User,
    UserIdentity,
    UserSession,
    Workspace,
    WorkspaceMembership,
)
from backend.vocabulary.roles import OrgRole

# Credentials ----------------------------------------------------------------------


class TokenAndUser(NamedTuple):
    id: UUID
    user_id: UUID
    restricted_workspace_id: UUID | None
    restricted_organization_id: UUID | None
    read_only: bool
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    email: str
    is_active: bool


def token_and_user_query() -> Select[*tuple[Any, ...]]:
    """The ``TokenAndUser`` of the token whose hash is the parameter ``secret_hash``."""
    return (
        select(
            ApiToken.id,
            ApiToken.user_id,
            ApiToken.restricted_workspace_id,
            ApiToken.restricted_organization_id,
            ApiToken.read_only,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
            ApiToken.expires_at,
            User.email,
            User.is_active,
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.secret_hash == bindparam("secret_hash", type_=String))
    )


# Every request with a bearer token seen for the first time runs it: sent through
# asyncpg (backend.db.driver).
_TOKEN_AND_USER = DriverStatement(token_and_user_query(), "secret_hash")


async def token_and_user(connection: AsyncConnection, secret_hash: str) -> TokenAndUser | None:
    """The token with this hash and what its owner's account says, in one statement (on
    any connection: tokens and users are not workspace rows)."""
    found = await driver.rows(connection, _TOKEN_AND_USER, secret_hash=secret_hash)
    return TokenAndUser(*found[0]) if found else None


async def session_and_user(
    session: AsyncSession, secret_hash: str
) -> tuple[UserSession, User] | None:
    """The browser session with this hash, and its user."""
    row = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.secret_hash == secret_hash)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def revoke_sessions(
    session: AsyncSession,
    now: datetime,
    *,
    user_id: UUID,
    session_id: UUID | None = None,
    organization_id: UUID | None = None,
) -> int:
    """Revoke a user's live sessions (one, those of one organization, or all); how many."""
    statement = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if session_id is not None:
        statement = statement.where(UserSession.id == session_id)
    if organization_id is not None:
        statement = statement.where(UserSession.organization_id == organization_id)
    result = await session.execute(statement.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


# Accounts -------------------------------------------------------------------------


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def holds_any_credential(session: AsyncSession, user_id: UUID) -> bool:
    """Whether the account ever had a session, a token or a linked identity."""
    async with seeing_own_rows_of(session, user_id):
        for table, column in (
            (UserSession, UserSession.user_id),
            (ApiToken, ApiToken.user_id),
            (UserIdentity, UserIdentity.user_id),
        ):
            found = await session.scalar(
                select(func.count()).select_from(table).where(column == user_id)
            )
            if found:
                return True
    return False


async def end_all_credentials(session: AsyncSession, user_id: UUID, now: datetime) -> int:
    """Revoke every session and token of the account and unlink its identities; how many."""
    ended = 0
    async with seeing_own_rows_of(session, user_id):
        for model in (UserSession, ApiToken):
            result = await session.execute(
                update(model)
                .where(model.user_id == user_id, model.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            ended += int(getattr(result, "rowcount", 0) or 0)
        result = await session.execute(delete(UserIdentity).where(UserIdentity.user_id == user_id))
        ended += int(getattr(result, "rowcount", 0) or 0)
    return ended


async def owns_organization(session: AsyncSession, organization_id: UUID, user_id: UUID) -> bool:
    owner = await session.scalar(
        select(OrganizationMembership.user_id).where(
            OrganizationMembership.organization_id == organization_id,
            OrganizationMembership.user_id == user_id,
            OrganizationMembership.role == OrgRole.OWNER,
        )
    )
    return owner is not None


async def workspaces_of_organization(
    session: AsyncSession, organization_id: UUID, ids: list[UUID]
) -> list[UUID]:
    """Those of ``ids`` that are workspaces of the organization."""
    found = await session.scalars(
        select(Workspace.id).where(
            Workspace.organization_id == organization_id, Workspace.id.in_(ids)
        )
    )
    return list(found.all())


async def workspace_membership(
    session: AsyncSession, workspace_id: UUID, user_id: UUID
) -> WorkspaceMembership | None:
    return await session.scalar(
        select(WorkspaceMembership).where(
            WorkspaceMembership.workspace_id == workspace_id,
            WorkspaceMembership.user_id == user_id,
        )
    )


# SSO sign-in attempts ---------------------------------------------------------------


async def organization_id_by_slug(session: AsyncSession, slug: str) -> UUID | None:
    found: UUID | None = await session.scalar(
        select(Organization.id).where(Organization.slug == slug)
    )
    return found


async def enabled_connection_by_slug(session: AsyncSession, slug: str) -> SsoConnection | None:
    """The organization's newest enabled SSO connection."""
    return await session.scalar(
        select(SsoConnection)
        .join(Organization, Organization.id == SsoConnection.organization_id)
        .where(Organization.slug == slug, SsoConnection.enabled.is_(True))
        .order_by(SsoConnection.created_at.desc())
        .limit(1)
    )


async def attempt_for_update(session: AsyncSession, state: str) -> SsoLoginAttempt | None:
    return await session.scalar(
        select(SsoLoginAttempt).where(SsoLoginAttempt.state == state).with_for_update()
    )


async def delete_attempts_before(session: AsyncSession, before: datetime, dialect: str) -> int:
    if dialect == "postgresql":
        # Row-level security shows an attempt only to whoever presents its state, or
        # to this transaction the ones expired before this moment.
        await session.execute(
            text("SELECT set_config('waypost.prune_before', :before, true)"),
            {"before": before.isoformat()},
        )
    result = await session.execute(
        delete(SsoLoginAttempt).where(SsoLoginAttempt.created_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def session_ids_opened_in(
    session: AsyncSession, user_id: UUID, organization_id: UUID
) -> Sequence[UUID]:
    """The account's sign-in sessions opened through one organization."""
    return (
        await session.scalars(
            select(UserSession.id).where(
                UserSession.user_id == user_id, UserSession.organization_id == organization_id
            )
        )
    ).all()
