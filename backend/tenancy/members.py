"""Taking people out: of one workspace, or of a whole organization.

Whoever leaves loses their way in at once: the browser sessions they opened through
that organization and their API tokens limited to its workspaces are revoked in the
same transaction. (Their other tokens stay, but reach nothing here any more: access
is computed from memberships on every request.)
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth.sessions import end_sessions
from backend.authz.access import Access
from backend.db.scoping import UNSCOPED_OPTION, seeing_own_rows_of
from backend.db.types import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.models import ApiToken, OrganizationMembership, User, Workspace, WorkspaceMembership
from backend.outbox import emit as outbox
from backend.tenancy.commands import RemoveOrganizationMember, RemoveWorkspaceMember
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import OrgRole, WorkspaceRole


async def _revoke_tokens(
    session: AsyncSession,
    user_id: UUID,
    workspace_ids: list[UUID],
    organization_id: UUID | None = None,
) -> int:
    """Revoke the person's tokens limited to these workspaces, and, once they have left
    ``organization_id`` altogether, those limited to that organization."""
    reach: ColumnElement[bool] = ApiToken.restricted_workspace_id.in_(workspace_ids)
    if organization_id is not None:
        reach = or_(reach, ApiToken.restricted_organization_id == organization_id)
    async with seeing_own_rows_of(session, user_id):  # their tokens beyond the caller's
        result = await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, reach, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def _still_in_organization(
    session: AsyncSession, organization_id: UUID, user_id: UUID
) -> bool:
    if await session.get(OrganizationMembership, (organization_id, user_id)) is not None:
        return True
    # Memberships elsewhere in the org may be beyond this caller's workspaces: count
    # them all (a number, no rows), or a guest of two workspaces would lose both.
    async with seeing_own_rows_of(session, user_id):
        remaining = await session.scalar(
            select(func.count())
            .select_from(WorkspaceMembership)
            .join(Workspace, Workspace.id == WorkspaceMembership.workspace_id)
            .where(
                Workspace.organization_id == organization_id,
                WorkspaceMembership.user_id == user_id,
            )
            .execution_options(**{UNSCOPED_OPTION: True})
        )
    return bool(remaining)


async def remove_workspace_member(
    session: AsyncSession, access: Access, command: RemoveWorkspaceMember
) -> WorkspaceMembership:
    workspace_id, user_id = command.workspace_id, command.user_id
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    membership = await session.scalar(
        select(WorkspaceMembership).where(
            WorkspaceMembership.workspace_id == workspace_id, WorkspaceMembership.user_id == user_id
        )
    )
    if membership is None:
        raise NotFound("Workspace member", field="user_id")
    user = await session.get(User, user_id)
    assert user is not None
    await session.delete(membership)
    await session.flush()
    tokens = await _revoke_tokens(session, user_id, [workspace_id])
    organization_id = access.workspace_orgs[workspace_id]
    sessions = 0
    if not await _still_in_organization(session, organization_id, user_id):
        sessions = await end_sessions(session, user_id=user_id, organization_id=organization_id)
        tokens += await _revoke_tokens(session, user_id, [], organization_id)
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.WORKSPACE_MEMBER_REMOVE,
        subject_type="WorkspaceMember",
        subject_id=membership.id,
        changes=changes_of(
            {"email": user.email, "role": membership.role},
            {"email": None, "role": None, "tokens_revoked": tokens, "sessions_ended": sessions},
        ),
    )
    await outbox.emit(
        session,
        workspace_id,
        "workspace_member.changed",
        {"membership_id": membership.id, "user_id": user_id, "role": None},
    )
    return membership


async def remove_organization_member(
    session: AsyncSession, access: Access, command: RemoveOrganizationMember
) -> OrganizationMembership:
    organization_id, user_id = command.organization_id, command.user_id
    access.require_organization(organization_id, OrgRole.ADMIN, field="organization_id")
    member = await session.get(OrganizationMembership, (organization_id, user_id))
    if member is None:
        raise NotFound("Organization member", field="user_id")
    if member.role is OrgRole.OWNER:
        caller = access.org_role(organization_id)
        if caller is not OrgRole.OWNER:
            raise Forbidden("Only an owner may remove an owner.", field="user_id")
        owners = await session.scalar(
            select(func.count())
            .select_from(OrganizationMembership)
            .where(
                OrganizationMembership.organization_id == organization_id,
                OrganizationMembership.role == OrgRole.OWNER,
            )
        )
        if (owners or 0) <= 1:
            raise ValidationFailed("An organization keeps at least one owner.", field="user_id")
    user = await session.get(User, user_id)
    assert user is not None
    # An org ADMIN reaches every workspace of the org: all memberships are in scope.
    workspace_ids = list(
        (
            await session.scalars(
                select(Workspace.id).where(Workspace.organization_id == organization_id)
            )
        ).all()
    )
    removed = await session.execute(
        delete(WorkspaceMembership).where(
            WorkspaceMembership.workspace_id.in_(workspace_ids),
            WorkspaceMembership.user_id == user_id,
        )
    )
    role = member.role
    await session.delete(member)
    await session.flush()
    tokens = await _revoke_tokens(session, user_id, workspace_ids, organization_id)
    sessions = await end_sessions(session, user_id=user_id, organization_id=organization_id)
    await audit.record(
        session,
        organization_id=organization_id,
        action=AuditAction.ORGANIZATION_MEMBER_REMOVE,
        subject_type="User",
        subject_id=user_id,
        changes=changes_of(
            {"email": user.email, "role": role},
            {
                "email": None,
                "role": None,
                "workspace_memberships_removed": int(getattr(removed, "rowcount", 0) or 0),
                "tokens_revoked": tokens,
                "sessions_ended": sessions,
            },
        ),
    )
    return member
