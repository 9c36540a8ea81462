"""Account linking is a tenant boundary: an email address alone never proves control of an
existing account. Each attack below is made the way the security review made it: one
organization's admin (bravo) aims at another organization's people (alpha) through an
invitation, through single sign-on, or from inside an agency as a client guest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, open_session
from backend.db.engine import Database
from backend.models import (
    ApiToken,
    Invitation,
    OrganizationMembership,
    SsoLoginAttempt,
    UserIdentity,
)
from backend.settings import Settings
from backend.vocabulary.roles import OrgRole, WorkspaceRole
from tests.fixtures.dns_server import LocalDnsServer
from tests.fixtures.graphql import global_id
from tests.fixtures.rogue_idp import CLIENT_ID, CLIENT_SECRET, RogueIdP
from tests.fixtures.settings import production_settings
from tests.fixtures.sso import (
    APP_ORIGIN,
    Browser,
    browser_for,
    counts,
    create_connection,
    verify_domain,
)
from tests.fixtures.tenants import Tenant, add_guest

INVITE = """mutation($input: CreateInvitationInput!) { createInvitation(input: $input) {
  acceptUrl errors { code field message } } }"""
VIEWER = """{ viewer { user { email } organizations { edges { node { slug viewerRole } } }
  workspaces { edges { node { id } } } } }"""
MINT = """mutation { createApiToken(input: {name: "minted"}) { token errors { code } } }"""
WORKSPACE = """query($id: ID!) { workspace(id: $id) { id name } }"""
PENDING = """query($slug: String!) { organization(slug: $slug) { pendingInvitations { email } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def attacker(settings: Settings, database: Database) -> AsyncIterator[Browser]:
    async with browser_for(settings, database) as opened:
        yield opened


async def _invite(browser: Browser, token: str, **fields: Any) -> dict[str, Any]:
    body = await browser.with_token(token, INVITE, {"input": fields})
    return dict(body["data"]["createInvitation"])


async def _redeem(browser: Browser, url: str) -> httpx.Response:
    assert (await browser.http.get(url)).status_code == 200
    return await browser.http.post(url)


def _unauthenticated(body: dict[str, Any]) -> bool:
    return body.get("errors", [{}])[0].get("extensions", {}).get("code") == "UNAUTHENTICATED"


def _orgs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in body["data"]["viewer"]["organizations"]["edges"]]


async def _identities(owner: AsyncEngine) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(UserIdentity)) or 0)


# -- invitations ----------------------------------------------------------------------------


async def test_an_admin_redeeming_their_own_invitation_to_another_orgs_owner_gets_no_session(
    attacker: Browser, tenant_a: Tenant, tenant_b: Tenant, inspector_engine: AsyncEngine
) -> None:
    """Bravo's admin invites alpha's owner into bravo and opens the link themselves: before,
    that signed them in *as alpha's owner* and a minted token reached alpha as OWNER."""
    invited = await _invite(
        attacker, tenant_b.token, organizationId=tenant_b.org_gid, email=tenant_a.owner_email,
        orgRole="ADMIN",
    )  # fmt: skip
    assert invited["errors"] == []
    before = await counts(inspector_engine)
    answer = await _redeem(attacker, invited["acceptUrl"])
    assert answer.status_code == 409
    assert "Sign in to it first" in answer.text
    assert attacker.cookie(SESSION_COOKIE) is None
    assert await counts(inspector_engine) == before  # no membership, no session
    assert _unauthenticated(await attacker.graphql(MINT))
    # The invitation waits for the person it names.
    pending = await attacker.with_token(tenant_b.token, PENDING, {"slug": tenant_b.slug})
    assert pending["data"]["organization"]["pendingInvitations"] == [
        {"email": tenant_a.owner_email}
    ]


async def test_the_invited_person_signed_in_as_their_account_accepts_into_the_new_org_only(
    settings: Settings, database: Database, attacker: Browser, tenant_a: Tenant, tenant_b: Tenant,
    inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    """One person in two organizations: each session and token acts in its own only."""
    first = await _invite(
        attacker, tenant_a.token, organizationId=tenant_a.org_gid, email="carol@client.example",
        orgRole="MEMBER", workspaceId=tenant_a.ws_gid(0), workspaceRole="EDITOR",
    )  # fmt: skip
    second = await _invite(
        attacker, tenant_b.token, organizationId=tenant_b.org_gid, email="carol@client.example",
        orgRole="MEMBER", workspaceId=tenant_b.ws_gid(0), workspaceRole="VIEWER",
    )  # fmt: skip
    async with browser_for(settings, database) as carol:
        assert (await _redeem(carol, first["acceptUrl"])).status_code == 303  # a new account
        in_alpha = await carol.graphql(VIEWER)
        assert _orgs(in_alpha) == [{"slug": "alpha", "viewerRole": "MEMBER"}]
        # Signed in as the account the invitation names: accepted.
        assert (await _redeem(carol, second["acceptUrl"])).status_code == 303
        in_bravo = await carol.graphql(VIEWER)
        assert _orgs(in_bravo) == [{"slug": "bravo", "viewerRole": "MEMBER"}]
        minted = await carol.graphql(MINT)
        token = minted["data"]["createApiToken"]["token"]
    # The token minted through bravo's session acts in bravo only, and so does every
    # token it mints in turn.
    assert _orgs(await attacker.with_token(token, VIEWER)) == [
        {"slug": "bravo", "viewerRole": "MEMBER"}
    ]
    assert (await attacker.with_token(token, WORKSPACE, {"id": tenant_a.ws_gid(0)}))["data"] == {
        "workspace": None
    }
    again = (await attacker.with_token(token, MINT))["data"]["createApiToken"]["token"]
    assert _orgs(await attacker.with_token(again, VIEWER)) == [
        {"slug": "bravo", "viewerRole": "MEMBER"}
    ]
    async with inspector_engine.connect() as conn:
        limits = (
            await conn.execute(select(ApiToken.restricted_organization_id).where(
                ApiToken.name == "minted"
            ))
        ).scalars().all()  # fmt: skip
    assert limits == [tenant_b.organization_id, tenant_b.organization_id]


async def test_an_invitation_posted_from_another_site_is_refused_and_stays_unspent(
    settings: Settings, database: Database, attacker: Browser, tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    """Login CSRF: evil.example makes a visitor's browser post the attacker's link."""
    invited = await _invite(
        attacker, tenant_a.token, organizationId=tenant_a.org_gid, email="new@client.example",
        orgRole="MEMBER",
    )  # fmt: skip
    async with browser_for(settings, database) as visitor:
        before = await counts(inspector_engine)
        for headers in ({"origin": "https://evil.example"}, {"origin": ""}):
            refused = await visitor.http.post(invited["acceptUrl"], headers=headers)
            assert refused.status_code == 403
            assert visitor.cookie(SESSION_COOKIE) is None
        assert await counts(inspector_engine) == before
        from_our_page = await visitor.http.post(
            invited["acceptUrl"], headers={"origin": "", "referer": f"{APP_ORIGIN}/auth/x"}
        )
        assert from_our_page.status_code == 303


async def test_a_client_guest_cannot_invite_the_agency_owner_or_redeem_for_an_account(
    database: Database, attacker: Browser, tenant_a: Tenant, tenant_b: Tenant,
    inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    """A client's staff member who administers one workspace of the agency."""
    _, guest = await add_guest(
        database, tenant_a.workspace_ids[0], "lead@client.example", WorkspaceRole.ADMIN
    )
    ws = {"workspaceId": tenant_a.ws_gid(0), "workspaceRole": "VIEWER"}
    owner = await _invite(
        attacker, guest, organizationId=tenant_a.org_gid, email=tenant_a.owner_email, **ws
    )
    assert [(e["code"], e["field"]) for e in owner["errors"]] == [("VALIDATION", "input.email")]
    as_member = await _invite(
        attacker, guest, organizationId=tenant_a.org_gid, email="x@client.example",
        orgRole="MEMBER",
    )  # fmt: skip
    assert [e["code"] for e in as_member["errors"]] == ["FORBIDDEN"]
    # Someone else's existing account (not a member here) can be invited, but the link
    # in the guest's hands does not open it.
    other = await _invite(
        attacker, guest, organizationId=tenant_a.org_gid, email=tenant_b.owner_email, **ws
    )
    assert other["errors"] == []
    before = await counts(inspector_engine)
    assert (await _redeem(attacker, other["acceptUrl"])).status_code == 409
    assert await counts(inspector_engine) == before


# -- single sign-on -------------------------------------------------------------------------


async def test_an_sso_connection_cannot_admit_a_domain_the_organization_has_not_verified(
    client: httpx.AsyncClient, tenant_b: Tenant, rogue_idp: RogueIdP
) -> None:
    made = await create_connection(
        client, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, allowed_domains=["bravo.example", "alpha.example"],
        verify_domains=False,
    )  # fmt: skip
    assert [(e["code"], e["field"]) for e in made["errors"]] == [
        ("VALIDATION", "input.allowedDomains[0]")
    ]
    # Claiming is free; proving is not: bravo cannot publish alpha's DNS.
    await verify_domain(client, tenant_b.token, tenant_b.org_gid, "bravo.example")
    made = await create_connection(
        client, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, allowed_domains=["bravo.example", "alpha.example"],
        verify_domains=False,
    )  # fmt: skip
    assert [(e["code"], e["field"]) for e in made["errors"]] == [
        ("VALIDATION", "input.allowedDomains[1]")
    ]


async def test_a_domain_is_verified_by_its_dns_and_by_one_organization_at_most(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, dns_server: LocalDnsServer
) -> None:
    claim = """mutation($org: ID!) { claimDomain(input: {organizationId: $org,
      domain: " @Shared.Example "}) { domain { id domain verified txtRecordName
      txtRecordValue } errors { code field } } }"""
    verify = """mutation($id: ID!) { verifyDomain(input: {id: $id}) { domain { verified }
      errors { code field message } } }"""

    async def call(token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        return dict(answer.json()["data"])

    a = (await call(tenant_a.token, claim, {"org": tenant_a.org_gid}))["claimDomain"]["domain"]
    b = (await call(tenant_b.token, claim, {"org": tenant_b.org_gid}))["claimDomain"]["domain"]
    assert a["domain"] == b["domain"] == "shared.example"
    assert a["txtRecordName"] == "_waypost-verification.shared.example"
    assert a["txtRecordValue"] != b["txtRecordValue"]
    unpublished = (await call(tenant_a.token, verify, {"id": a["id"]}))["verifyDomain"]
    assert [e["code"] for e in unpublished["errors"]] == ["VALIDATION"]
    assert "No TXT record" in unpublished["errors"][0]["message"]
    # Both records published (say, during a move between organizations): first wins.
    dns_server.set_txt(a["txtRecordName"], a["txtRecordValue"], b["txtRecordValue"])
    verified = (await call(tenant_a.token, verify, {"id": a["id"]}))["verifyDomain"]
    assert verified == {"domain": {"verified": True}, "errors": []}
    second = (await call(tenant_b.token, verify, {"id": b["id"]}))["verifyDomain"]
    assert second["domain"] is None
    assert "Another organization" in second["errors"][0]["message"]
    # And another organization's claim does not exist for alpha.
    theirs = (await call(tenant_a.token, verify, {"id": b["id"]}))["verifyDomain"]
    assert [e["code"] for e in theirs["errors"]] == ["NOT_FOUND"]
    assert any(name == "_waypost-verification.shared.example." for name, _ in dns_server.queries)


@pytest_asyncio.fixture(loop_scope="session")
async def loose_settings(settings: Settings) -> Settings:
    """Development's loud flag: SSO may admit domains nobody verified."""
    return settings.model_copy(update={"sso_allow_unverified_domains": True})


async def test_a_rogue_provider_for_an_unverified_domain_cannot_sign_in_as_an_existing_account(
    loose_settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant,
    rogue_idp: RogueIdP, inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    """Even where unverified domains are allowed: bravo's admin points a connection for
    alpha.example at their own provider, which says it is alpha's owner."""
    async with browser_for(loose_settings, database) as attacker:
        made = await create_connection(
            attacker.http, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, allowed_domains=["alpha.example"],
            verify_domains=False,
        )  # fmt: skip
        assert made["errors"] == []
        rogue_idp.behaviour.email = tenant_a.owner_email
        rogue_idp.behaviour.sub = "attacker-controlled"
        before, identities = await counts(inspector_engine), await _identities(inspector_engine)
        landed = await attacker.sign_in_through_rogue(tenant_b.slug)
        assert landed.status_code == 403
        assert "already exists and is not linked" in landed.text
        assert attacker.cookie(SESSION_COOKIE) is None
        assert await counts(inspector_engine) == before
        assert await _identities(inspector_engine) == identities
        # A new address is provisioned as before (just-in-time accounts still work).
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "fresh@alpha.example", "fresh"
        assert (await attacker.sign_in_through_rogue(tenant_b.slug)).status_code == 303


async def test_an_organization_signs_in_the_accounts_of_its_verified_domain_but_not_its_owner(
    settings: Settings, database: Database, tenant_a: Tenant, rogue_idp: RogueIdP,
    inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    async with browser_for(settings, database) as admin:
        invited = await _invite(
            admin, tenant_a.token, organizationId=tenant_a.org_gid, email="dana@alpha.example",
            orgRole="MEMBER",
        )  # fmt: skip
        assert (await _redeem(admin, invited["acceptUrl"])).status_code == 303  # new account
    async with browser_for(settings, database) as browser:
        made = await create_connection(
            browser.http, tenant_a, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, allowed_domains=["alpha.example"],
        )  # fmt: skip
        assert made["errors"] == []
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "dana@alpha.example", "dana"
        assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
        assert (await browser.graphql(VIEWER))["data"]["viewer"]["user"] == {
            "email": "dana@alpha.example"
        }
    async with browser_for(settings, database) as admin:
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = tenant_a.owner_email, "owner?"
        before = await counts(inspector_engine)
        assert (await admin.sign_in_through_rogue(tenant_a.slug)).status_code == 403
        assert admin.cookie(SESSION_COOKIE) is None
        assert await counts(inspector_engine) == before


async def test_a_signed_in_person_links_another_organizations_sign_in_from_our_page_only(
    loose_settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant,
    rogue_idp: RogueIdP, inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    """Someone invited while using one organization links a second organization's SSO."""
    async with browser_for(loose_settings, database) as erin:
        invited = await _invite(
            erin, tenant_a.token, organizationId=tenant_a.org_gid, email="erin@partner.example",
            orgRole="MEMBER",
        )  # fmt: skip
        assert (await _redeem(erin, invited["acceptUrl"])).status_code == 303
        made = await create_connection(
            erin.http, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, allowed_domains=["partner.example"],
            verify_domains=False,
        )  # fmt: skip
        assert made["errors"] == []
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "erin@partner.example", "erin"
        link = f"{APP_ORIGIN}/auth/sso/{tenant_b.slug}/login"
        # A plain visit is a sign-in, not a link: the account exists, so it is refused.
        assert (await erin.sign_in_through_rogue(tenant_b.slug)).status_code == 403
        # Another site cannot make the browser ask for a link.
        async with inspector_engine.connect() as conn:
            attempts = await conn.scalar(select(func.count()).select_from(SsoLoginAttempt))
        cross = await erin.http.post(link, headers={"origin": "https://evil.example"})
        assert cross.status_code == 403
        async with inspector_engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(SsoLoginAttempt)) == attempts
        # Our page asks, with the session that proves the account: linked and signed in.
        started = await erin.http.post(link)
        assert started.status_code == 303
        landed = await erin.callback(await erin.follow_to_app(started))
        assert landed.status_code == 303, landed.text
        body = await erin.graphql(VIEWER)
        assert body["data"]["viewer"]["user"] == {"email": "erin@partner.example"}
        assert _orgs(body) == [{"slug": "bravo", "viewerRole": "MEMBER"}]
        # From now on the plain sign-in finds the linked identity.
        erin.http.cookies.clear()
        assert (await erin.sign_in_through_rogue(tenant_b.slug)).status_code == 303


async def test_linking_needs_the_provider_to_name_the_signed_in_account(
    loose_settings: Settings, database: Database, tenant_a: Tenant, tenant_b: Tenant,
    rogue_idp: RogueIdP, inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    async with browser_for(loose_settings, database) as frank:
        invited = await _invite(
            frank, tenant_a.token, organizationId=tenant_a.org_gid,
            email="frank@partner.example", orgRole="MEMBER",
        )  # fmt: skip
        assert (await _redeem(frank, invited["acceptUrl"])).status_code == 303
        made = await create_connection(
            frank.http, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, allowed_domains=["partner.example"],
            verify_domains=False,
        )  # fmt: skip
        assert made["errors"] == []
        rogue_idp.behaviour.email = "someone-else@partner.example"
        before = await _identities(inspector_engine)
        started = await frank.http.post(f"{APP_ORIGIN}/auth/sso/{tenant_b.slug}/login")
        landed = await frank.callback(await frank.follow_to_app(started))
        assert landed.status_code == 403
        assert "not as the account you asked to link" in landed.text
        assert await _identities(inspector_engine) == before


def test_production_refuses_sso_for_unverified_domains() -> None:
    production_settings("sqlite+aiosqlite:///x.db")  # otherwise fine
    with pytest.raises(ValueError, match="UNVERIFIED_DOMAINS"):
        production_settings("sqlite+aiosqlite:///x.db", sso_allow_unverified_domains=True)


async def test_invitations_left_pending_by_a_refusal_can_be_listed_and_revoked(
    attacker: Browser, tenant_a: Tenant, tenant_b: Tenant, inspector_engine: AsyncEngine
) -> None:
    """The refused redemption left the invitation exactly as it was."""
    invited = await _invite(
        attacker, tenant_b.token, organizationId=tenant_b.org_gid, email=tenant_a.owner_email,
        orgRole="MEMBER",
    )  # fmt: skip
    assert (await _redeem(attacker, invited["acceptUrl"])).status_code == 409
    async with inspector_engine.connect() as conn:
        row = (await conn.execute(select(Invitation.accepted_at, Invitation.accepted_by))).one()
    assert tuple(row) == (None, None)


async def _signed_in_through(
    database: Database, settings: Settings, browser: Browser, user_id: UUID, tenant: Tenant
) -> None:
    """The browser holds a session of the account opened through ``tenant`` (as its SSO
    would open one)."""
    async with database.transaction(tenant.binding(), write=True) as session:
        opened = await open_session(
            session, settings, user_id=user_id, organization_id=tenant.organization_id,
            ip=None, user_agent=None,
        )  # fmt: skip
    browser.http.cookies.set(SESSION_COOKIE, opened.secret, domain="testserver.local")
    browser.http.cookies.set(CSRF_COOKIE, opened.csrf_token, domain="testserver.local")


# -- from every role ------------------------------------------------------------------------

ROLES = {
    # name: (organization role, workspace role in bravo's first workspace)
    "org-owner": (OrgRole.OWNER, None),
    "org-admin": (OrgRole.ADMIN, None),
    "org-member-workspace-admin": (OrgRole.MEMBER, WorkspaceRole.ADMIN),
    "guest-admin": (None, WorkspaceRole.ADMIN),
    "guest-editor": (None, WorkspaceRole.EDITOR),
    "guest-viewer": (None, WorkspaceRole.VIEWER),
}


async def _caller(database: Database, tenant: Tenant, name: str) -> str:
    """A token of someone holding ``name``'s roles in ``tenant``."""
    if name == "org-owner":
        return tenant.token
    org_role, workspace_role = ROLES[name]
    user_id, token = await add_guest(
        database, tenant.workspace_ids[0], f"{name}@{tenant.slug}.example",
        workspace_role or WorkspaceRole.VIEWER,
    )  # fmt: skip
    if org_role is not None:
        async with database.transaction(tenant.binding(), write=True) as session:
            session.add(
                OrganizationMembership(
                    organization_id=tenant.organization_id, user_id=user_id, role=org_role
                )
            )
    return token


@pytest.mark.parametrize("role", list(ROLES))
async def test_no_role_in_one_organization_gets_a_session_as_another_organizations_people(
    role: str, settings: Settings, database: Database, attacker: Browser, tenant_a: Tenant,
    tenant_b: Tenant, inspector_engine: AsyncEngine,
) -> None:  # fmt: skip
    """Every role of bravo invites alpha's owner, an alpha member and an alpha guest, in
    every shape of invitation it may send, and redeems each link itself."""
    member, _ = await add_guest(
        database, tenant_a.workspace_ids[1], "member@alpha.example", WorkspaceRole.EDITOR
    )
    async with database.transaction(tenant_a.binding(), write=True) as session:
        session.add(
            OrganizationMembership(
                organization_id=tenant_a.organization_id, user_id=member, role=OrgRole.MEMBER
            )
        )
    await add_guest(database, tenant_a.workspace_ids[0], "guest@alpha.example", WorkspaceRole.ADMIN)
    token = await _caller(database, tenant_b, role)
    shapes: list[dict[str, Any]] = [
        {"orgRole": "ADMIN"},
        {"orgRole": "MEMBER", "workspaceId": tenant_b.ws_gid(0), "workspaceRole": "ADMIN"},
        {"workspaceId": tenant_b.ws_gid(0), "workspaceRole": "VIEWER"},
    ]
    sent = 0
    before = await counts(inspector_engine)
    for victim in (tenant_a.owner_email, "member@alpha.example", "guest@alpha.example"):
        for shape in shapes:
            invited = await _invite(
                attacker, token, organizationId=tenant_b.org_gid, email=victim, **shape
            )
            if invited["errors"]:
                assert {e["code"] for e in invited["errors"]} <= {"FORBIDDEN", "NOT_FOUND"}
                continue
            sent += 1
            async with browser_for(settings, database) as holder:
                answer = await _redeem(holder, invited["acceptUrl"])
                assert answer.status_code == 409, (role, victim, shape)
                assert holder.cookie(SESSION_COOKIE) is None
                assert _unauthenticated(await holder.graphql(VIEWER))
    assert await counts(inspector_engine) == before
    # Admins may send every shape, workspace admins the guest one, the others none.
    assert sent == {"org-owner": 9, "org-admin": 9}.get(
        role, 3 if ROLES[role][1] is WorkspaceRole.ADMIN else 0
    )


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param({"orgRole": "ADMIN"}, id="org-admin"),
        pytest.param({"orgRole": "MEMBER"}, id="org-member"),
        pytest.param({"workspaceRole": "ADMIN"}, id="guest-admin"),
        pytest.param({"workspaceRole": "VIEWER"}, id="guest-viewer"),
    ],
)
async def test_tokens_minted_through_an_invitation_session_act_in_its_organization_only(
    shape: dict[str, str], settings: Settings, database: Database, attacker: Browser,
    tenant_a: Tenant, tenant_b: Tenant,
) -> None:  # fmt: skip
    """Someone who also holds alpha's OWNER role signs in through bravo's invitation, in
    every role bravo can give: the session and what it mints never reach alpha."""
    both = "both@two.example"
    user_id, _ = await add_guest(database, tenant_a.workspace_ids[0], both, WorkspaceRole.VIEWER)
    async with database.transaction(tenant_a.binding(), write=True) as session:
        session.add(
            OrganizationMembership(
                organization_id=tenant_a.organization_id, user_id=user_id, role=OrgRole.OWNER
            )
        )
    into = dict(shape, workspaceId=tenant_b.ws_gid(0)) if "workspaceRole" in shape else shape
    invited = await _invite(
        attacker, tenant_b.token, organizationId=tenant_b.org_gid, email=both, **into
    )
    async with browser_for(settings, database) as person:
        await _signed_in_through(database, settings, person, user_id, tenant_a)
        assert (await _redeem(person, invited["acceptUrl"])).status_code == 303
        body = await person.graphql(VIEWER)
        assert [o["slug"] for o in _orgs(body)] == ["bravo"]
        token = (await person.graphql(MINT))["data"]["createApiToken"]["token"]
    minted_again = (await attacker.with_token(token, MINT))["data"]["createApiToken"]["token"]
    for credential in (token, minted_again):
        seen = await attacker.with_token(credential, VIEWER)
        assert [o["slug"] for o in _orgs(seen)] == ["bravo"]
        for workspace in tenant_a.workspace_ids:
            answer = await attacker.with_token(
                credential, WORKSPACE, {"id": global_id("Workspace", workspace)}
            )
            assert answer["data"] == {"workspace": None}


async def test_leaving_the_organization_revokes_the_tokens_minted_through_it(
    settings: Settings, database: Database, attacker: Browser, tenant_b: Tenant
) -> None:
    invited = await _invite(
        attacker, tenant_b.token, organizationId=tenant_b.org_gid, email="gina@x.example",
        orgRole="MEMBER",
    )  # fmt: skip
    async with browser_for(settings, database) as gina:
        assert (await _redeem(gina, invited["acceptUrl"])).status_code == 303
        token = (await gina.graphql(MINT))["data"]["createApiToken"]["token"]
        me = await gina.graphql("{ viewer { user { id } } }")
    assert _orgs(await attacker.with_token(token, VIEWER))
    removed = await attacker.with_token(
        tenant_b.token,
        """mutation($org: ID!, $user: ID!) { removeOrganizationMember(input:
        {organizationId: $org, userId: $user}) { errors { code } } }""",
        {"org": tenant_b.org_gid, "user": me["data"]["viewer"]["user"]["id"]},
    )
    assert removed["data"]["removeOrganizationMember"]["errors"] == []
    assert _unauthenticated(await attacker.with_token(token, VIEWER))
