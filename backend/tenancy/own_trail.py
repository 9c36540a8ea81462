"""What of an account's own audit trail a limited credential may read."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import repository as accounts
from backend.authz.access import Access
from backend.tenancy.repository import TenancyRepository


async def visible_account_subjects(session: AsyncSession, access: Access) -> list[str] | None:
    """The events about the tokens the credential sees and the sessions opened where it
    acts; None (all of them) for a full credential.

    A session one organization opened must not read what the account did in another
    (the names, workspaces and organizations of the tokens minted there).
    """
    organization = access.organization_limit
    if organization is None and access.workspace_limit is None:
        return None
    subjects = [str(i) for i in await TenancyRepository(session).visible_token_ids(access)]
    if organization is not None and access.workspace_limit is None:
        opened = await accounts.session_ids_opened_in(session, access.user_id, organization)
        subjects += [str(i) for i in opened]
    return subjects
