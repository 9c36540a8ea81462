"""Agency workspaces: invitations by one-time link (create, accept, expire, revoke) for
members and guests, and removing people, which ends their sessions and tokens there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.models import AccountAuditEvent, ApiToken, Invitation, OrganizationMembership, User
from backend.settings import Settings
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from tests.fixtures.graphql import global_id
from tests.fixtures.sso import Browser, browser_for, counts
from tests.fixtures.tenants import Tenant, add_guest

INVITE = """mutation($input: CreateInvitationInput!) { createInvitation(input: $input) {
  invitation { id email orgRole workspaceId workspaceRole expiresAt } acceptUrl
  errors { code field message } } }"""
REVOKE = """mutation($id: ID!) { revokeInvitation(input: {id: $id}) {
  invitation { revokedAt } errors { code field } } }"""
REMOVE_FROM_ORG = """mutation($org: ID!, $user: ID!) { removeOrganizationMember(input:
  {organizationId: $org, userId: $user}) { removedUserId errors { code field message } } }"""
REMOVE_FROM_WORKSPACE = """mutation($ws: ID!, $user: ID!) { removeWorkspaceMember(input:
  {workspaceId: $ws, userId: $user}) { removedUserId errors { code field message } } }"""
VIEWER = """{ viewer { user { email } organizations { edges { node { slug viewerRole } } }
  workspaces { edges { node { id viewerRole } } } } }"""
LIMITED_TOKEN = """mutation($ws: ID!) { createApiToken(input: {name: "laptop", workspaceId: $ws})
  { token errors { code } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def browser(settings: Settings, database: Database) -> AsyncIterator[Browser]:
    async with browser_for(settings, database) as opened:
        yield opened


async def _invite(browser: Browser, token: str, **fields: Any) -> dict[str, Any]:
    body = await browser.with_token(token, INVITE, {"input": fields})
    return dict(body["data"]["createInvitation"])


async def _accept(browser: Browser, url: str) -> Any:
    page = await browser.http.get(url)
    assert page.status_code == 200, page.text
    assert '<form method="post">' in page.text  # opening the link spends nothing
    return await browser.http.post(url)


def _edges(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e["node"] for e in body["data"]["viewer"][name]["edges"]]


async def test_an_invited_member_accepts_once_and_is_signed_in(
    settings: Settings,
    database: Database,
    browser: Browser,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    invited = await _invite(
        browser,
        tenant_a.token,
        organizationId=tenant_a.org_gid,
        email=" New@Client.Example ",
        orgRole="MEMBER",
        workspaceId=tenant_a.ws_gid(1),
        workspaceRole="EDITOR",
    )
    assert invited["errors"] == []
    assert invited["invitation"]["email"] == "new@client.example"
    url = invited["acceptUrl"]
    assert url.startswith("https://testserver/auth/invitations/wpi_")
    async with browser_for(settings, database) as newcomer:
        accepted = await _accept(newcomer, url)
        assert accepted.status_code == 303
        body = await newcomer.graphql(VIEWER)
        assert body["data"]["viewer"]["user"] == {"email": "new@client.example"}
        assert _edges(body, "organizations") == [{"slug": "alpha", "viewerRole": "MEMBER"}]
        assert _edges(body, "workspaces") == [{"id": tenant_a.ws_gid(1), "viewerRole": "EDITOR"}]
        before = await counts(inspector_engine)
        again = await newcomer.http.post(url)
        assert again.status_code == 410
        assert "already used" in again.text
        assert await counts(inspector_engine) == before
    async with inspector_engine.connect() as conn:
        actions = (await conn.execute(select(AccountAuditEvent.action))).scalars().all()
    assert {"invitation.create", "invitation.accept"} <= set(actions)
    async with inspector_engine.connect() as conn:  # nothing of the link is kept in clear
        stored = (await conn.execute(select(Invitation.secret_hash))).scalars().all()
    assert url.rsplit("/", 1)[1] not in stored


async def test_a_workspace_admin_invites_guests_into_their_workspace_only(
    settings: Settings, database: Database, browser: Browser, tenant_a: Tenant
) -> None:
    ws = tenant_a.workspace_ids[0]
    _, admin = await add_guest(database, ws, "lead@client.example", WorkspaceRole.ADMIN)
    other = await _invite(
        browser,
        admin,
        organizationId=tenant_a.org_gid,
        email="x@client.example",
        workspaceId=tenant_a.ws_gid(1),
        workspaceRole="VIEWER",
    )
    assert [(e["code"], e["field"]) for e in other["errors"]] == [
        ("NOT_FOUND", "input.workspaceId")
    ]
    member = await _invite(
        browser, admin, organizationId=tenant_a.org_gid, email="x@client.example", orgRole="MEMBER"
    )
    assert [(e["code"], e["field"]) for e in member["errors"]] == [
        ("FORBIDDEN", "input.organizationId")
    ]
    guest = await _invite(
        browser,
        admin,
        organizationId=tenant_a.org_gid,
        email="guest@client.example",
        workspaceId=tenant_a.ws_gid(0),
        workspaceRole="VIEWER",
    )
    assert guest["errors"] == []
    async with browser_for(settings, database) as visitor:
        assert (await _accept(visitor, guest["acceptUrl"])).status_code == 303
        body = await visitor.graphql(VIEWER)
        assert _edges(body, "workspaces") == [{"id": tenant_a.ws_gid(0), "viewerRole": "VIEWER"}]
        # A guest sees the organization their workspace is in, with no role in it.
        assert _edges(body, "organizations") == [{"slug": "alpha", "viewerRole": None}]


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        pytest.param({"expires_at": utcnow() - timedelta(minutes=1)}, "has expired", id="expired"),
        pytest.param({"revoked_at": utcnow()}, "withdrawn", id="revoked"),
    ],
)
async def test_an_expired_or_revoked_invitation_lets_no_one_in(
    spoil: dict[str, Any],
    reason: str,
    settings: Settings,
    database: Database,
    browser: Browser,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    invited = await _invite(
        browser,
        tenant_a.token,
        organizationId=tenant_a.org_gid,
        email="late@client.example",
        orgRole="MEMBER",
    )
    async with inspector_engine.begin() as conn:
        await conn.execute(update(Invitation).values(**spoil))
    before = await counts(inspector_engine)
    async with browser_for(settings, database) as late:
        for method in (late.http.get, late.http.post):
            answer = await method(invited["acceptUrl"])
            assert answer.status_code == 410
            assert reason in answer.text
    assert await counts(inspector_engine) == before


async def test_revoking_through_the_api_withdraws_the_link(
    settings: Settings, database: Database, browser: Browser, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    invited = await _invite(
        browser,
        tenant_a.token,
        organizationId=tenant_a.org_gid,
        email="z@client.example",
        orgRole="MEMBER",
    )
    theirs = await browser.with_token(tenant_b.token, REVOKE, {"id": invited["invitation"]["id"]})
    assert theirs["data"]["revokeInvitation"]["errors"] == [
        {"code": "NOT_FOUND", "field": "input.id"}
    ]
    pending = await browser.with_token(
        tenant_a.token,
        "query($slug: String!) { organization(slug: $slug) { pendingInvitations { email } } }",
        {"slug": tenant_a.slug},
    )
    assert pending["data"]["organization"]["pendingInvitations"] == [{"email": "z@client.example"}]
    ours = await browser.with_token(tenant_a.token, REVOKE, {"id": invited["invitation"]["id"]})
    assert ours["data"]["revokeInvitation"]["errors"] == []
    async with browser_for(settings, database) as invitee:
        assert (await invitee.http.post(invited["acceptUrl"])).status_code == 410


async def test_viewers_and_other_tenants_cannot_invite(
    database: Database, browser: Browser, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _, viewer = await add_guest(database, tenant_a.workspace_ids[0], "v@x.io", WorkspaceRole.VIEWER)
    fields = {
        "organizationId": tenant_a.org_gid,
        "email": "n@x.io",
        "workspaceId": tenant_a.ws_gid(0),
        "workspaceRole": "VIEWER",
    }
    as_viewer = await _invite(browser, viewer, **fields)
    assert [e["code"] for e in as_viewer["errors"]] == ["FORBIDDEN"]
    as_stranger = await _invite(browser, tenant_b.token, **fields)
    assert [e["code"] for e in as_stranger["errors"]] == ["NOT_FOUND"]


# -- removing people ----------------------------------------------------------------------


@asynccontextmanager
async def _member_with_session_and_token(
    settings: Settings, database: Database, browser: Browser, tenant: Tenant, email: str
) -> AsyncIterator[tuple[Browser, str, str]]:
    """Someone invited as org MEMBER and EDITOR of workspace 0, signed in, with a token
    limited to workspace 0: their browser, token and user id."""
    invited = await _invite(
        browser,
        tenant.token,
        organizationId=tenant.org_gid,
        email=email,
        orgRole="MEMBER",
        workspaceId=tenant.ws_gid(0),
        workspaceRole="EDITOR",
    )
    async with browser_for(settings, database) as member:
        assert (await _accept(member, invited["acceptUrl"])).status_code == 303
        minted = await member.graphql(LIMITED_TOKEN, {"ws": tenant.ws_gid(0)})
        token = minted["data"]["createApiToken"]["token"]
        async with database.transaction(NO_TENANT) as session:
            user_id = await session.scalar(select(User.id).where(User.email == email))
        yield member, token, global_id("User", user_id)


def _unauthenticated(body: dict[str, Any]) -> bool:
    return body.get("errors", [{}])[0].get("extensions", {}).get("code") == "UNAUTHENTICATED"


async def test_removing_an_org_member_ends_their_sessions_and_tokens_there(
    settings: Settings,
    database: Database,
    browser: Browser,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    async with _member_with_session_and_token(
        settings, database, browser, tenant_a, "leaver@alpha.example"
    ) as (member, token, user):
        assert (await member.graphql(VIEWER))["data"]["viewer"]["user"]
        assert (await member.with_token(token, VIEWER))["data"]["viewer"]["user"]
        removed = await browser.with_token(
            tenant_a.token, REMOVE_FROM_ORG, {"org": tenant_a.org_gid, "user": user}
        )
        assert removed["data"]["removeOrganizationMember"] == {"removedUserId": user, "errors": []}
        assert _unauthenticated(await member.graphql(VIEWER))
        assert _unauthenticated(await member.with_token(token, VIEWER))
    async with inspector_engine.connect() as conn:
        memberships = (
            await conn.execute(
                select(OrganizationMembership).where(
                    OrganizationMembership.organization_id == tenant_a.organization_id
                )
            )
        ).all()
        revoked = (
            await conn.execute(select(ApiToken.revoked_at).where(ApiToken.name == "laptop"))
        ).scalar_one()
    assert [m.role for m in memberships] == [OrgRole.OWNER]
    assert revoked is not None


async def test_the_last_owner_stays_and_only_owners_remove_owners(
    database: Database, browser: Browser, tenant_a: Tenant
) -> None:
    owner = global_id("User", tenant_a.owner_id)
    last = await browser.with_token(
        tenant_a.token, REMOVE_FROM_ORG, {"org": tenant_a.org_gid, "user": owner}
    )
    assert [
        (e["code"], e["field"]) for e in last["data"]["removeOrganizationMember"]["errors"]
    ] == [("VALIDATION", "input.userId")]
    admin_id, admin_token = await add_guest(
        database, tenant_a.workspace_ids[0], "admin@alpha.example", WorkspaceRole.VIEWER
    )
    async with database.transaction(tenant_a.binding(), write=True) as session:
        session.add(
            OrganizationMembership(
                organization_id=tenant_a.organization_id, user_id=admin_id, role=OrgRole.ADMIN
            )
        )
    by_admin = await browser.with_token(
        admin_token, REMOVE_FROM_ORG, {"org": tenant_a.org_gid, "user": owner}
    )
    assert [e["code"] for e in by_admin["data"]["removeOrganizationMember"]["errors"]] == [
        "FORBIDDEN"
    ]


async def test_removing_a_guest_from_their_only_workspace_ends_their_session(
    settings: Settings, database: Database, browser: Browser, tenant_a: Tenant
) -> None:
    invited = await _invite(
        browser,
        tenant_a.token,
        organizationId=tenant_a.org_gid,
        email="g@client.example",
        workspaceId=tenant_a.ws_gid(0),
        workspaceRole="EDITOR",
    )
    second = await _invite(
        browser,
        tenant_a.token,
        organizationId=tenant_a.org_gid,
        email="g@client.example",
        workspaceId=tenant_a.ws_gid(1),
        workspaceRole="VIEWER",
    )
    async with browser_for(settings, database) as guest:
        assert (await _accept(guest, invited["acceptUrl"])).status_code == 303
        assert (await _accept(guest, second["acceptUrl"])).status_code == 303
        async with database.transaction(NO_TENANT) as session:
            user = global_id(
                "User",
                await session.scalar(select(User.id).where(User.email == "g@client.example")),
            )
        out_of_one = await browser.with_token(
            tenant_a.token, REMOVE_FROM_WORKSPACE, {"ws": tenant_a.ws_gid(0), "user": user}
        )
        assert out_of_one["data"]["removeWorkspaceMember"]["errors"] == []
        body = await guest.graphql(VIEWER)
        assert _edges(body, "workspaces") == [{"id": tenant_a.ws_gid(1), "viewerRole": "VIEWER"}]
        out_of_all = await browser.with_token(
            tenant_a.token, REMOVE_FROM_WORKSPACE, {"ws": tenant_a.ws_gid(1), "user": user}
        )
        assert out_of_all["data"]["removeWorkspaceMember"]["errors"] == []
        assert _unauthenticated(await guest.graphql(VIEWER))


async def test_a_workspace_admin_removing_a_guest_leaves_their_other_workspaces_alone(
    settings: Settings, database: Database, browser: Browser, tenant_a: Tenant
) -> None:
    """The remover cannot see the guest's other workspace; the guest keeps it (and their
    session), on Postgres too, where row-level security hides that membership."""
    _, lead = await add_guest(
        database, tenant_a.workspace_ids[0], "lead@client.example", WorkspaceRole.ADMIN
    )
    invitations = [
        await _invite(
            browser,
            tenant_a.token,
            organizationId=tenant_a.org_gid,
            email="both@client.example",
            workspaceId=tenant_a.ws_gid(index),
            workspaceRole="VIEWER",
        )
        for index in (0, 1)
    ]
    async with browser_for(settings, database) as guest:
        for invited in invitations:
            assert (await _accept(guest, invited["acceptUrl"])).status_code == 303
        async with database.transaction(NO_TENANT) as session:
            user_id = await session.scalar(
                select(User.id).where(User.email == "both@client.example")
            )
        removed = await browser.with_token(
            lead,
            REMOVE_FROM_WORKSPACE,
            {"ws": tenant_a.ws_gid(0), "user": global_id("User", user_id)},
        )
        assert removed["data"]["removeWorkspaceMember"]["errors"] == []
        body = await guest.graphql(VIEWER)
        assert _edges(body, "workspaces") == [{"id": tenant_a.ws_gid(1), "viewerRole": "VIEWER"}]
