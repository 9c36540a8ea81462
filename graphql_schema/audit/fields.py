"""Audit's fields on Workspace, Organization and Viewer: trails and dead letters.

Each answers null when the caller's role is too weak: workspace ADMIN for a
workspace's trail and dead letters, organization ADMIN for an organization's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import strawberry

from backend.audit.repository import AuditFilter, AuditRepository
from backend.db.pagination import Page, PageRequest
from backend.models.audit import AuditScope
from backend.tenancy.own_trail import visible_account_subjects
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from graphql_schema.audit.types import (
    AuditChainCheckType,
    AuditEventFilter,
    AuditEventType,
    DeadLetterType,
)
from graphql_schema.context import Info
from graphql_schema.permissions import ORG_ADMIN_READ, WORKSPACE_ADMIN_READ, restricted_field
from graphql_schema.relay import Connection

if TYPE_CHECKING:
    from graphql_schema.tenancy.types import OrganizationType, WorkspaceType
    from graphql_schema.tenancy.viewer import Viewer

AuditConnection = Connection[AuditEventType]


def _empty() -> AuditConnection:
    return Connection.from_page(Page([], [], False, 0), AuditEventType.from_model)


@restricted_field(WORKSPACE_ADMIN_READ, "This workspace's audit trail, newest first.")
async def workspace_audit_events(
    root: WorkspaceType,
    info: Info,
    filter: AuditEventFilter | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> AuditConnection | None:
    workspace_id = UUID(root.id)
    if not _is_workspace_admin(info, workspace_id):
        return None
    criteria = filter.to_domain() if filter else AuditFilter()
    if criteria is None:
        return _empty()
    async with info.context.read() as session:
        page = await AuditRepository(session).workspace_events(
            workspace_id, criteria, PageRequest(first, after, last, before)
        )
    return Connection.from_page(page, AuditEventType.from_model)


@restricted_field(ORG_ADMIN_READ, "This organization's audit trail, newest first.")
async def organization_audit_events(
    root: OrganizationType,
    info: Info,
    filter: AuditEventFilter | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> AuditConnection | None:
    return await _account_events(
        info,
        AuditScope.ORGANIZATION,
        UUID(root.id),
        filter,
        PageRequest(first, after, last, before),
    )


@strawberry.field(description="Changes to your own account (API tokens), newest first.")
async def viewer_audit_events(
    root: Viewer,
    info: Info,
    filter: AuditEventFilter | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> AuditConnection | None:
    return await _account_events(
        info, AuditScope.USER, root.user_id, filter, PageRequest(first, after, last, before)
    )


async def _account_events(
    info: Info,
    scope: AuditScope,
    scope_id: UUID,
    filter: AuditEventFilter | None,
    asked: PageRequest,
) -> AuditConnection | None:
    access = info.context.access
    if scope is AuditScope.ORGANIZATION:
        role = access.org_role(scope_id)
        if role is None or not role.at_least(OrgRole.ADMIN):
            return None
    elif scope_id != access.user_id:
        return None
    criteria = filter.to_domain() if filter else AuditFilter()
    if criteria is None:
        return _empty()
    async with info.context.read() as session:
        subjects = None
        if scope is AuditScope.USER:
            subjects = await visible_account_subjects(session, access)
        page = await AuditRepository(session).account_events(
            scope, scope_id, criteria, asked, subjects=subjects
        )
    return Connection.from_page(page, AuditEventType.from_model)


@restricted_field(WORKSPACE_ADMIN_READ, "Background messages that failed for good.")
async def workspace_dead_letters(
    root: WorkspaceType,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[DeadLetterType] | None:
    workspace_id = UUID(root.id)
    if not _is_workspace_admin(info, workspace_id):
        return None
    async with info.context.read() as session:
        page = await AuditRepository(session).dead_letters(
            workspace_id, PageRequest(first, after, last, before)
        )
    return Connection.from_page(page, DeadLetterType.from_model)


@restricted_field(
    WORKSPACE_ADMIN_READ,
    "The background verifier's last check of the audit trail (null before the first).",
)
async def workspace_audit_chain_check(
    root: WorkspaceType, info: Info
) -> AuditChainCheckType | None:
    workspace_id = UUID(root.id)
    if not _is_workspace_admin(info, workspace_id):
        return None
    async with info.context.read() as session:
        check = await AuditRepository(session).chain_check(workspace_id)
    return AuditChainCheckType.from_model(check) if check else None


def _is_workspace_admin(info: Info, workspace_id: UUID) -> bool:
    role = info.context.access.workspace_role(workspace_id)
    return role is not None and role.at_least(WorkspaceRole.ADMIN)
