"""Each kind of caller reaches exactly what its credential allows, and nothing more."""

from __future__ import annotations

import uuid

import pytest

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.subject import BrowserSession, IngestionKey, Operator, PersonalToken
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.errors import Forbidden
from backend.tenancy import service
from backend.vocabulary.roles import OrganizationKind, OrgRole, WorkspaceRole
from tests.fixtures.tenants import Tenant


async def _second_organization(db: Database, owner_email: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Another organization owned by the same person: (organization, its workspace)."""
    async with db.transaction(NO_TENANT, write=True) as session:
        bind_actor(session, Actor.system())
        made = await service.bootstrap_organization(
            session,
            org_slug="second",
            name="Second",
            kind=OrganizationKind.AGENCY,
            admin_email=owner_email,
        )
    return made.organization.id, made.workspace.id


async def test_an_operator_reaches_everything_its_person_holds(
    database: Database, tenant_a: Tenant
) -> None:
    other_org, other_ws = await _second_organization(database, tenant_a.owner_email)
    access = await load_access(database, Operator(tenant_a.owner_id, tenant_a.owner_email))
    assert access.org_roles == {
        tenant_a.organization_id: OrgRole.OWNER,
        other_org: OrgRole.OWNER,
    }
    assert set(access.workspace_roles) == {*tenant_a.workspace_ids, other_ws}
    assert access.binding().account_id == tenant_a.owner_id
    assert not access.read_only


async def test_a_browser_session_reaches_only_the_organization_it_was_opened_through(
    database: Database, tenant_a: Tenant
) -> None:
    await _second_organization(database, tenant_a.owner_email)
    subject = BrowserSession(
        user_id=tenant_a.owner_id,
        email=tenant_a.owner_email,
        session_id=uuid.uuid4(),
        csrf_token="csrf",
        organization_id=tenant_a.organization_id,
    )
    access = await load_access(database, subject)
    assert access.org_roles == {tenant_a.organization_id: OrgRole.OWNER}
    assert set(access.workspace_roles) == set(tenant_a.workspace_ids)
    assert access.binding().organization_ids == {tenant_a.organization_id}
    assert access.session_id == subject.session_id
    assert access.token_id is None
    assert access.organization_limit == tenant_a.organization_id


async def test_a_workspace_token_reaches_its_workspace_without_organization_powers(
    database: Database, tenant_a: Tenant
) -> None:
    only = tenant_a.workspace_ids[1]
    subject = PersonalToken(
        user_id=tenant_a.owner_id,
        email=tenant_a.owner_email,
        token_id=uuid.uuid4(),
        workspace_id=only,
    )
    access = await load_access(database, subject)
    assert access.org_roles == {}
    assert access.workspace_roles == {only: WorkspaceRole.ADMIN}
    assert access.binding().workspace_ids == {only}
    with pytest.raises(Forbidden):
        access.require_organization(tenant_a.organization_id, OrgRole.ADMIN)
    access.require_workspace(only, WorkspaceRole.ADMIN)


async def test_a_read_only_token_reads_but_never_writes(
    database: Database, tenant_a: Tenant
) -> None:
    subject = PersonalToken(
        user_id=tenant_a.owner_id,
        email=tenant_a.owner_email,
        token_id=uuid.uuid4(),
        read_only=True,
    )
    access = await load_access(database, subject)
    assert set(access.workspace_roles) == set(tenant_a.workspace_ids)
    assert access.read_only
    with pytest.raises(Forbidden, match="read-only"):
        access.require_workspace(tenant_a.workspace_ids[0], WorkspaceRole.VIEWER)


async def test_an_ingestion_key_edits_one_workspace_on_nobodys_behalf(
    database: Database, tenant_a: Tenant
) -> None:
    workspace = tenant_a.workspace_ids[0]
    access = await load_access(
        database, IngestionKey(token_id=uuid.uuid4(), workspace_id=workspace)
    )
    assert access.workspace_roles == {workspace: WorkspaceRole.EDITOR}
    assert access.org_roles == {}
    binding = access.binding()
    assert binding.workspace_ids == {workspace}
    assert binding.organization_ids == frozenset()
    assert binding.account_id is None  # no one's own tokens or sessions
    with pytest.raises(Forbidden):
        access.require_workspace(workspace, WorkspaceRole.ADMIN)
    with pytest.raises(Forbidden):
        _ = access.user_id


async def test_a_stranger_reaches_nothing(database: Database, tenant_a: Tenant) -> None:
    access: Access = await load_access(database, Operator(uuid.uuid4(), "nobody@else.example"))
    assert access.org_roles == {}
    assert access.workspace_roles == {}
    assert access.binding().workspace_ids == frozenset()
