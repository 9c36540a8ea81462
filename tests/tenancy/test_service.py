"""Tenancy's rules, called on the services directly: invitations, members, API tokens."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.subject import BrowserSession, Operator, PersonalToken, UserSubject
from backend.auth.tokens import presenting
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.models import OrganizationMembership
from backend.models.audit import ActorType
from backend.tenancy import invitations, members, service
from backend.tenancy.commands import (
    CreateApiToken,
    CreateInvitation,
    RemoveOrganizationMember,
)
from backend.tenancy.repository import TenancyRepository
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from tests.fixtures.tenants import Tenant, add_guest

T = TypeVar("T")


async def _as(db: Database, subject: UserSubject) -> Access:
    return await load_access(db, subject)


async def _write(db: Database, access: Access, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One write transaction as the caller, as a mutation runs it."""
    async with db.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor(ActorType.USER, user_id=access.user_id))
        return await work(session)


def _owner(tenant: Tenant) -> Operator:
    return Operator(user_id=tenant.owner_id, email=tenant.owner_email)


async def _guest_admin(db: Database, tenant: Tenant) -> Access:
    """The ADMIN of the tenant's first workspace, a guest there (no organization role)."""
    user_id, _token = await add_guest(
        db, tenant.workspace_ids[0], "guest-admin@client.example", WorkspaceRole.ADMIN
    )
    return await _as(db, Operator(user_id=user_id, email="guest-admin@client.example"))


# Invitations ----------------------------------------------------------------------


async def test_guest_workspace_admin_cannot_give_an_organization_role(
    database: Database, tenant_a: Tenant
) -> None:
    guest = await _guest_admin(database, tenant_a)
    command = CreateInvitation(
        tenant_a.organization_id, "new@client.example", org_role=OrgRole.MEMBER
    )
    with pytest.raises(Forbidden) as refused:
        await _write(database, guest, lambda s: invitations.create_invitation(s, guest, command))
    assert refused.value.field == "organization_id"


async def test_guest_workspace_admin_invites_a_guest_into_their_workspace(
    database: Database, tenant_a: Tenant
) -> None:
    guest = await _guest_admin(database, tenant_a)
    command = CreateInvitation(
        tenant_a.organization_id,
        "new@client.example",
        workspace_id=tenant_a.workspace_ids[0],
        workspace_role=WorkspaceRole.VIEWER,
    )
    issued = await _write(
        database, guest, lambda s: invitations.create_invitation(s, guest, command)
    )
    assert issued.invitation.org_role is None
    assert issued.invitation.target_workspace_id == tenant_a.workspace_ids[0]


async def test_guest_workspace_admin_cannot_invite_into_another_workspace(
    database: Database, tenant_a: Tenant
) -> None:
    guest = await _guest_admin(database, tenant_a)
    command = CreateInvitation(
        tenant_a.organization_id,
        "new@client.example",
        workspace_id=tenant_a.workspace_ids[1],
        workspace_role=WorkspaceRole.VIEWER,
    )
    with pytest.raises(NotFound) as refused:
        await _write(database, guest, lambda s: invitations.create_invitation(s, guest, command))
    assert refused.value.field == "workspace_id"


async def test_another_organizations_admin_cannot_invite(
    database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    outsider = await _as(database, _owner(tenant_b))
    command = CreateInvitation(
        tenant_a.organization_id, "new@alpha.example", org_role=OrgRole.MEMBER
    )
    with pytest.raises(NotFound) as refused:
        await _write(
            database, outsider, lambda s: invitations.create_invitation(s, outsider, command)
        )
    assert refused.value.field == "organization_id"


async def test_ownership_is_not_given_by_invitation(database: Database, tenant_a: Tenant) -> None:
    owner = await _as(database, _owner(tenant_a))
    command = CreateInvitation(
        tenant_a.organization_id, "new@alpha.example", org_role=OrgRole.OWNER
    )
    with pytest.raises(ValidationFailed) as refused:
        await _write(database, owner, lambda s: invitations.create_invitation(s, owner, command))
    assert refused.value.field == "org_role"


async def test_a_workspace_without_its_role_is_refused(
    database: Database, tenant_a: Tenant
) -> None:
    owner = await _as(database, _owner(tenant_a))
    command = CreateInvitation(
        tenant_a.organization_id, "new@alpha.example", workspace_id=tenant_a.workspace_ids[0]
    )
    with pytest.raises(ValidationFailed) as refused:
        await _write(database, owner, lambda s: invitations.create_invitation(s, owner, command))
    assert refused.value.field == "workspace_role"


async def test_invitation_lifetime_defaults_to_a_week_and_is_capped(
    database: Database, tenant_a: Tenant
) -> None:
    owner = await _as(database, _owner(tenant_a))
    default = CreateInvitation(tenant_a.organization_id, "a@alpha.example", org_role=OrgRole.MEMBER)
    issued = await _write(
        database, owner, lambda s: invitations.create_invitation(s, owner, default)
    )
    lifetime = issued.invitation.expires_at - utcnow()
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)

    too_long = CreateInvitation(
        tenant_a.organization_id,
        "b@alpha.example",
        org_role=OrgRole.MEMBER,
        expires_in_days=invitations.MAX_LIFETIME_DAYS + 1,
    )
    with pytest.raises(ValidationFailed) as refused:
        await _write(database, owner, lambda s: invitations.create_invitation(s, owner, too_long))
    assert refused.value.field == "expires_in_days"


async def test_an_expired_invitation_cannot_be_used(database: Database, tenant_a: Tenant) -> None:
    owner = await _as(database, _owner(tenant_a))
    command = CreateInvitation(
        tenant_a.organization_id, "late@alpha.example", org_role=OrgRole.MEMBER, expires_in_days=1
    )
    issued = await _write(
        database, owner, lambda s: invitations.create_invitation(s, owner, command)
    )

    async def expire(session: AsyncSession) -> None:
        invitation = await session.get(type(issued.invitation), issued.invitation.id)
        assert invitation is not None
        invitation.expires_at = utcnow() - timedelta(seconds=1)

    await _write(database, owner, expire)
    async with database.transaction(presenting(issued.secret)) as session:
        with pytest.raises(invitations.InvitationUnusable, match="expired"):
            await invitations.usable_invitation(session, issued.secret)


# Members --------------------------------------------------------------------------


async def test_the_last_owner_cannot_leave(database: Database, tenant_a: Tenant) -> None:
    owner = await _as(database, _owner(tenant_a))
    command = RemoveOrganizationMember(tenant_a.organization_id, tenant_a.owner_id)
    with pytest.raises(ValidationFailed, match="at least one owner") as refused:
        await _write(
            database, owner, lambda s: members.remove_organization_member(s, owner, command)
        )
    assert refused.value.field == "user_id"


async def test_an_admin_cannot_remove_an_owner(database: Database, tenant_a: Tenant) -> None:
    admin_id, _token = await add_guest(
        database, tenant_a.workspace_ids[0], "admin@alpha.example", WorkspaceRole.VIEWER
    )

    async def promote(session: AsyncSession) -> None:
        session.add(
            OrganizationMembership(
                organization_id=tenant_a.organization_id, user_id=admin_id, role=OrgRole.ADMIN
            )
        )

    await _write(database, await _as(database, _owner(tenant_a)), promote)
    admin = await _as(database, Operator(user_id=admin_id, email="admin@alpha.example"))
    command = RemoveOrganizationMember(tenant_a.organization_id, tenant_a.owner_id)
    with pytest.raises(Forbidden, match="Only an owner"):
        await _write(
            database, admin, lambda s: members.remove_organization_member(s, admin, command)
        )


# API tokens -----------------------------------------------------------------------


async def _visible_token_ids(db: Database, access: Access) -> set[uuid.UUID]:
    async with db.transaction(access.binding()) as session:
        return set(await TenancyRepository(session).visible_token_ids(access))


async def test_an_organization_restricted_caller_lists_only_that_organizations_tokens(
    database: Database, tenant_a: Tenant
) -> None:
    full = await _as(database, _owner(tenant_a))
    session_subject = BrowserSession(
        user_id=tenant_a.owner_id,
        email=tenant_a.owner_email,
        session_id=uuid.uuid4(),
        csrf_token="csrf",
        organization_id=tenant_a.organization_id,
    )
    in_org = await _as(database, session_subject)
    minted = await _write(
        database,
        in_org,
        lambda s: service.create_api_token(s, in_org, CreateApiToken(name="from the session")),
    )
    assert minted.token.restricted_organization_id == tenant_a.organization_id

    everything = await _visible_token_ids(database, full)
    assert minted.token.id in everything
    assert len(everything) == 2
    assert await _visible_token_ids(database, in_org) == {minted.token.id}


async def test_a_workspace_limited_token_lists_and_mints_only_for_its_workspace(
    database: Database, tenant_a: Tenant
) -> None:
    full = await _as(database, _owner(tenant_a))
    first = tenant_a.workspace_ids[0]
    limited_issued = await _write(
        database,
        full,
        lambda s: service.create_api_token(s, full, CreateApiToken("one", workspace_id=first)),
    )
    limited = await _as(
        database,
        PersonalToken(
            user_id=tenant_a.owner_id,
            email=tenant_a.owner_email,
            token_id=limited_issued.token.id,
            workspace_id=first,
        ),
    )
    assert await _visible_token_ids(database, limited) == {limited_issued.token.id}
    with pytest.raises(Forbidden) as refused:
        await _write(
            database, limited, lambda s: service.create_api_token(s, limited, CreateApiToken("x"))
        )
    assert refused.value.field == "workspace_id"


async def test_a_read_only_token_cannot_mint_tokens(database: Database, tenant_a: Tenant) -> None:
    read_only = await _as(
        database,
        PersonalToken(
            user_id=tenant_a.owner_id,
            email=tenant_a.owner_email,
            token_id=uuid.uuid4(),
            read_only=True,
        ),
    )
    with pytest.raises(Forbidden, match="read-only"):
        await _write(
            database,
            read_only,
            lambda s: service.create_api_token(s, read_only, CreateApiToken("x")),
        )
