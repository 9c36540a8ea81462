"""Organization roles with real OrganizationMembership rows.

Org OWNER and ADMIN are ADMIN in every workspace of their organization without a
workspace membership; an org MEMBER reaches only the workspaces where they hold a
workspace role, with that role, and has no organization powers. Tenant A ("alpha")
has two workspaces; the people here belong to it in different ways.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.models import OrganizationMembership, Workspace
from backend.tenancy import service
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant, add_guest
from tests.graphql.test_tenancy_api import (
    ADD_MEMBER,
    CREATE_WORKSPACE,
    VIEWER_WORKSPACES,
    workspace_ids,
)

ORGANIZATION = """query($slug: String!) { organization(slug: $slug) {
  viewerRole auditEvents(first: 1) { totalCount }
  workspaces { totalCount edges { node { id viewerRole } } } } }"""

WORKSPACE = """query($id: ID!) {
  workspace(id: $id) { id viewerRole auditEvents(first: 1) { totalCount } }
  node(id: $id) { id } }"""


async def join_organization(
    db: Database, tenant: Tenant, email: str, role: OrgRole
) -> tuple[UUID, str]:
    """A person with an organization role and no workspace role (yet); their token."""
    async with db.transaction(tenant.binding(), write=True) as session:
        bind_actor(session, Actor.system())
        user = await service.user_for_email(session, email)
        session.add(
            OrganizationMembership(
                organization_id=tenant.organization_id, user_id=user.id, role=role
            )
        )
        issued = await service.issue_token(session, user.id, name="org")
    return user.id, issued.plaintext


async def org_member(
    db: Database, tenant: Tenant, roles: dict[int, WorkspaceRole], email: str = "m@alpha.example"
) -> str:
    """An org MEMBER holding ``roles`` (workspace index → role); their token."""
    _, token = await join_organization(db, tenant, email, OrgRole.MEMBER)
    for index, role in roles.items():
        await add_guest(db, tenant.workspace_ids[index], email, role)
    return token


async def workspace_count(db: Database) -> int:
    async with db.transaction(NO_TENANT) as session:
        return int(await session.scalar(select(func.count()).select_from(Workspace)) or 0)


def organization(body: dict[str, Any]) -> dict[str, Any]:
    org = body["data"]["organization"]
    assert org is not None, body
    return dict(org)


# -- Org OWNER and ADMIN: ADMIN everywhere in the organization --------------------------------

ORG_ADMINS = [pytest.param(role, id=role.name) for role in (OrgRole.OWNER, OrgRole.ADMIN)]


@pytest.mark.parametrize("role", ORG_ADMINS)
async def test_org_admin_sees_every_workspace_as_admin_without_a_membership(
    role: OrgRole, gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, token = await join_organization(database, tenant_a, "boss@alpha.example", role)
    every = {tenant_a.ws_gid(0), tenant_a.ws_gid(1)}

    viewer = await gql(VIEWER_WORKSPACES, token=token)
    assert workspace_ids(viewer) == every
    org = organization(await gql(ORGANIZATION, {"slug": "alpha"}, token=token))
    assert org["viewerRole"] == role.name
    assert org["auditEvents"] is not None
    assert {(e["node"]["id"], e["node"]["viewerRole"]) for e in org["workspaces"]["edges"]} == {
        (ws, "ADMIN") for ws in every
    }
    for ws in every:
        body = await gql(WORKSPACE, {"id": ws}, token=token)
        assert body["data"]["workspace"]["viewerRole"] == "ADMIN"
        assert body["data"]["workspace"]["auditEvents"] is not None
        assert body["data"]["node"] == {"id": ws}


@pytest.mark.parametrize("role", ORG_ADMINS)
async def test_org_admin_manages_members_and_creates_workspaces(
    role: OrgRole, gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    _, token = await join_organization(database, tenant_a, "boss@alpha.example", role)
    added = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": tenant_a.ws_gid(1), "email": "new@x.io", "role": "VIEWER"}},
        token=token,
    )
    assert added["data"]["addWorkspaceMember"]["errors"] == []
    assert added["data"]["addWorkspaceMember"]["member"]["workspace"] == {"id": tenant_a.ws_gid(1)}

    created = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": tenant_a.org_gid, "name": "Third client"}},
        token=token,
    )
    payload = created["data"]["createWorkspace"]
    assert payload["errors"] == []
    assert payload["workspace"]["viewerRole"] == "ADMIN"
    # The new workspace is theirs on the next request too, by the org role alone.
    again = await gql(WORKSPACE, {"id": payload["workspace"]["id"]}, token=token)
    assert again["data"]["workspace"]["viewerRole"] == "ADMIN"


async def test_org_admin_keeps_admin_where_they_also_hold_a_weaker_workspace_role(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    email = "boss@alpha.example"
    _, token = await join_organization(database, tenant_a, email, OrgRole.ADMIN)
    await add_guest(database, tenant_a.workspace_ids[0], email, WorkspaceRole.VIEWER)
    body = await gql(WORKSPACE, {"id": tenant_a.ws_gid(0)}, token=token)
    assert body["data"]["workspace"]["viewerRole"] == "ADMIN"


async def test_org_admin_reaches_nothing_of_another_organization(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _, token = await join_organization(database, tenant_a, "boss@alpha.example", OrgRole.ADMIN)
    assert (await gql(ORGANIZATION, {"slug": "bravo"}, token=token))["data"]["organization"] is None
    body = await gql(WORKSPACE, {"id": tenant_b.ws_gid(0)}, token=token)
    assert body["data"] == {"workspace": None, "node": None}
    created = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": tenant_b.org_gid, "name": "Planted"}},
        token=token,
    )
    [error] = created["data"]["createWorkspace"]["errors"]
    assert (error["code"], error["field"]) == ("NOT_FOUND", "input.organizationId")


# -- Org MEMBER: only where they hold a workspace role -----------------------------------------


async def test_org_member_sees_only_workspaces_where_they_hold_a_role(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    token = await org_member(database, tenant_a, {0: WorkspaceRole.EDITOR})

    viewer = await gql(VIEWER_WORKSPACES, token=token)
    assert workspace_ids(viewer) == {tenant_a.ws_gid(0)}
    org = organization(await gql(ORGANIZATION, {"slug": "alpha"}, token=token))
    assert org == {
        "viewerRole": "MEMBER",
        "auditEvents": None,  # the organization's trail is for org ADMINs
        "workspaces": {
            "totalCount": 1,
            "edges": [{"node": {"id": tenant_a.ws_gid(0), "viewerRole": "EDITOR"}}],
        },
    }
    own = await gql(WORKSPACE, {"id": tenant_a.ws_gid(0)}, token=token)
    assert own["data"]["workspace"] == {
        "id": tenant_a.ws_gid(0),
        "viewerRole": "EDITOR",
        "auditEvents": None,
    }
    # The organization's other workspace does not exist for them.
    other = await gql(WORKSPACE, {"id": tenant_a.ws_gid(1)}, token=token)
    assert other["data"] == {"workspace": None, "node": None}


@pytest.mark.parametrize("role", list(WorkspaceRole), ids=lambda role: role.name)
async def test_org_member_has_exactly_their_workspace_role(
    role: WorkspaceRole, gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    token = await org_member(database, tenant_a, {1: role})
    body = await gql(WORKSPACE, {"id": tenant_a.ws_gid(1)}, token=token)
    assert body["data"]["workspace"]["viewerRole"] == role.name


async def test_org_member_without_a_workspace_role_sees_the_org_and_no_workspace(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    token = await org_member(database, tenant_a, {})
    assert workspace_ids(await gql(VIEWER_WORKSPACES, token=token)) == set()
    org = organization(await gql(ORGANIZATION, {"slug": "alpha"}, token=token))
    assert (org["viewerRole"], org["workspaces"]["totalCount"]) == ("MEMBER", 0)
    for index in (0, 1):
        body = await gql(WORKSPACE, {"id": tenant_a.ws_gid(index)}, token=token)
        assert body["data"] == {"workspace": None, "node": None}


async def test_org_member_cannot_create_a_workspace(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    # Even as ADMIN of a workspace: creating workspaces is an organization power.
    token = await org_member(database, tenant_a, {0: WorkspaceRole.ADMIN})
    before = await workspace_count(database)
    body = await gql(
        CREATE_WORKSPACE,
        {"input": {"organizationId": tenant_a.org_gid, "name": "Not allowed"}},
        token=token,
    )
    payload = body["data"]["createWorkspace"]
    assert payload["workspace"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("FORBIDDEN", "input.organizationId")
    ]
    assert await workspace_count(database) == before


async def test_org_member_manages_members_only_where_they_are_workspace_admin(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    token = await org_member(database, tenant_a, {0: WorkspaceRole.ADMIN})

    async def add(index: int, email: str) -> list[tuple[str, str | None]]:
        body = await gql(
            ADD_MEMBER,
            {"input": {"workspaceId": tenant_a.ws_gid(index), "email": email, "role": "ADMIN"}},
            token=token,
        )
        return [(e["code"], e["field"]) for e in body["data"]["addWorkspaceMember"]["errors"]]

    assert await add(0, "colleague@alpha.example") == []
    assert await add(1, "planted@alpha.example") == [("NOT_FOUND", "input.workspaceId")]
    members = await gql(
        "query($id: ID!) { workspace(id: $id) { members { edges { node { user { email } } } } } }",
        {"id": tenant_a.ws_gid(1)},
        token=tenant_a.token,
    )
    assert members["data"]["workspace"]["members"]["edges"] == []


@pytest.mark.parametrize("role", [WorkspaceRole.EDITOR, WorkspaceRole.VIEWER], ids=str)
async def test_org_member_below_workspace_admin_cannot_add_members(
    role: WorkspaceRole, gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    token = await org_member(database, tenant_a, {0: role})
    body = await gql(
        ADD_MEMBER,
        {"input": {"workspaceId": tenant_a.ws_gid(0), "email": "p@x.io", "role": "ADMIN"}},
        token=token,
    )
    payload = body["data"]["addWorkspaceMember"]
    assert payload["member"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("FORBIDDEN", "input.workspaceId")
    ]
