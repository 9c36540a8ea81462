"""Attacks on account linking that got through, made as the attacker made them: real
browsers and tokens against the app, a hostile identity provider, real DNS on loopback.

Each test names what the attacker did and asserts what must not come of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select

from backend.auth.sessions import SESSION_COOKIE
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.models import User, WorkspaceMembership
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.rogue_idp import CLIENT_ID, CLIENT_SECRET, RogueIdP
from tests.fixtures.sso import Browser, browser_for, create_connection, verify_domain
from tests.fixtures.tenants import Tenant, add_guest

INVITE = """mutation($input: CreateInvitationInput!) { createInvitation(input: $input) {
  acceptUrl errors { code field message } } }"""
VIEWER = """{ viewer { user { email } organizations { edges { node { slug viewerRole } } }
  workspaces { edges { node { id } } } } }"""
MINT = """mutation($name: String!) { createApiToken(input: {name: $name}) {
  token errors { code } } }"""
WORKSPACE = """query($id: ID!) { workspace(id: $id) { id name } }"""
ADD_MEMBER = """mutation($ws: ID!, $email: String!) { addWorkspaceMember(input:
  {workspaceId: $ws, email: $email, role: VIEWER}) { errors { code field } } }"""
SIGN_OUT_EVERYWHERE = """mutation { signOutEverywhere(input: {keepThisSession: true}) {
  errors { code } } }"""
ACCOUNT_TRAIL = """{ viewer { auditEvents { edges { node { action changes } } }
  apiTokens { edges { node { name } } } } }"""


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


def _orgs(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body.get("data") is None:
        return []
    return [e["node"] for e in body["data"]["viewer"]["organizations"]["edges"]]


async def _reaches(browser: Browser, workspace_gid: str, token: str | None = None) -> bool:
    """Whether the browser's session (or ``token``) reads the workspace."""
    variables = {"id": workspace_gid}
    if token is not None:
        body = await browser.with_token(token, WORKSPACE, variables)
    else:
        body = await browser.graphql(WORKSPACE, variables)
    return bool((body.get("data") or {}).get("workspace"))


async def _alpha_sso(
    client: httpx.AsyncClient, tenant_a: Tenant, rogue_idp: RogueIdP
) -> dict[str, Any]:
    """Alpha proves alpha.example by DNS and signs its people in through its provider."""
    made = await create_connection(
        client, tenant_a, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, allowed_domains=["alpha.example"],
    )  # fmt: skip
    assert made["errors"] == [], made
    return made


# -- a client guest and the agency's verified domain ----------------------------------------


async def test_a_client_guest_cannot_redeem_their_invitation_as_an_agency_colleague(
    client: httpx.AsyncClient, database: Database, attacker: Browser, tenant_a: Tenant
) -> None:
    """Alpha (an agency) verified alpha.example. Xavier (xavier@alpha.example) works in
    alpha's second workspace as a guest. A client's lead administers alpha's first
    workspace only: they invite xavier's address into it and open the link themselves.
    Alpha's verified domain made the link attach to xavier's account: the lead was
    signed in as xavier and read the second workspace."""
    assert (await verify_domain(client, tenant_a.token, tenant_a.org_gid, "alpha.example"))[
        "errors"
    ] == []
    await add_guest(
        database, tenant_a.workspace_ids[1], "xavier@alpha.example", WorkspaceRole.EDITOR
    )
    _, lead = await add_guest(
        database, tenant_a.workspace_ids[0], "lead@client.example", WorkspaceRole.ADMIN
    )
    assert not await _reaches(attacker, tenant_a.ws_gid(1), lead)
    invited = await _invite(
        attacker, lead, organizationId=tenant_a.org_gid, email="xavier@alpha.example",
        workspaceId=tenant_a.ws_gid(0), workspaceRole="VIEWER",
    )  # fmt: skip
    if not invited["errors"]:
        answer = await _redeem(attacker, invited["acceptUrl"])
        assert answer.status_code == 409, answer.status_code
        assert attacker.cookie(SESSION_COOKIE) is None
    assert not await _reaches(attacker, tenant_a.ws_gid(1))


async def test_a_session_opened_by_one_organizations_domain_does_not_accept_into_another(
    client: httpx.AsyncClient, database: Database, attacker: Browser, tenant_a: Tenant,
    tenant_b: Tenant, rogue_idp: RogueIdP,
) -> None:  # fmt: skip
    """Bravo verified bravo.example and runs its own provider, so bravo's SSO may sign in
    vic@bravo.example (by design, restricted to bravo). Bravo's owner is also a client
    guest administering alpha's first workspace; vic is a guest in alpha's second. The
    owner signs in as vic through bravo, invites vic's address into alpha's first
    workspace, and opens the link in the same browser: 'signed in as that account'
    was taken as proof, and the new session acted in alpha as vic."""
    _, bravo_owner_in_alpha = await add_guest(
        database, tenant_a.workspace_ids[0], tenant_b.owner_email, WorkspaceRole.ADMIN
    )
    await add_guest(database, tenant_a.workspace_ids[1], "vic@bravo.example", WorkspaceRole.EDITOR)
    made = await create_connection(
        client, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, allowed_domains=["bravo.example"],
    )  # fmt: skip
    assert made["errors"] == [], made
    rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "vic@bravo.example", "vic"
    assert (await attacker.sign_in_through_rogue(tenant_b.slug)).status_code == 303
    assert _orgs(await attacker.graphql(VIEWER)) == [{"slug": "bravo", "viewerRole": "MEMBER"}]
    assert not await _reaches(attacker, tenant_a.ws_gid(1))
    invited = await _invite(
        attacker, bravo_owner_in_alpha, organizationId=tenant_a.org_gid,
        email="vic@bravo.example", workspaceId=tenant_a.ws_gid(0), workspaceRole="VIEWER",
    )  # fmt: skip
    if not invited["errors"]:
        await _redeem(attacker, invited["acceptUrl"])
    assert not await _reaches(attacker, tenant_a.ws_gid(1))


async def test_a_guest_invitation_sent_before_the_person_joined_does_not_open_their_access(
    client: httpx.AsyncClient, database: Database, attacker: Browser, tenant_a: Tenant,
    tenant_b: Tenant, rogue_idp: RogueIdP,
) -> None:  # fmt: skip
    """As above, but the invitation is sent while vic has nothing in alpha (so no check
    at creation can object), and alpha adds vic to its second workspace afterwards."""
    _, bravo_owner_in_alpha = await add_guest(
        database, tenant_a.workspace_ids[0], tenant_b.owner_email, WorkspaceRole.ADMIN
    )
    made = await create_connection(
        client, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, allowed_domains=["bravo.example"],
    )  # fmt: skip
    assert made["errors"] == [], made
    rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "vic@bravo.example", "vic"
    assert (await attacker.sign_in_through_rogue(tenant_b.slug)).status_code == 303
    invited = await _invite(
        attacker, bravo_owner_in_alpha, organizationId=tenant_a.org_gid,
        email="vic@bravo.example", workspaceId=tenant_a.ws_gid(0), workspaceRole="VIEWER",
    )  # fmt: skip
    assert invited["errors"] == []
    # Later, alpha gives vic a place in the second workspace (an invitation vic accepted).
    async with database.transaction(NO_TENANT) as session:
        vic = await session.scalar(select(User.id).where(User.email == "vic@bravo.example"))
    async with database.transaction(
        TenantBinding(frozenset({tenant_a.workspace_ids[1]})), write=True
    ) as session:
        session.add(
            WorkspaceMembership(
                workspace_id=tenant_a.workspace_ids[1], user_id=vic, role=WorkspaceRole.VIEWER
            )
        )
    await _redeem(attacker, invited["acceptUrl"])
    assert not await _reaches(attacker, tenant_a.ws_gid(1))


async def test_a_guest_who_redeemed_an_invitation_for_a_future_colleague_does_not_become_them(
    client: httpx.AsyncClient, database: Database, settings: Settings, attacker: Browser,
    tenant_a: Tenant, rogue_idp: RogueIdP,
) -> None:  # fmt: skip
    """Account pre-hijacking. A client's lead administering alpha's second workspace
    invites newhire@alpha.example (no account yet) into it, opens the link, and keeps a
    token. Weeks later alpha's real new hire signs in through alpha's SSO (alpha verified
    alpha.example, so its SSO attaches to the existing account at that domain): the
    lead's token now acts as the new hire, an alpha MEMBER reaching the SSO's default
    workspace."""
    _, lead = await add_guest(
        database, tenant_a.workspace_ids[1], "lead@client.example", WorkspaceRole.ADMIN
    )
    invited = await _invite(
        attacker, lead, organizationId=tenant_a.org_gid, email="newhire@alpha.example",
        workspaceId=tenant_a.ws_gid(1), workspaceRole="VIEWER",
    )  # fmt: skip
    kept: str | None = None
    if not invited["errors"] and (await _redeem(attacker, invited["acceptUrl"])).status_code == 303:
        kept = (await attacker.graphql(MINT, {"name": "kept"}))["data"]["createApiToken"]["token"]
    await _alpha_sso(client, tenant_a, rogue_idp)
    async with browser_for(settings, database) as newhire:
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "newhire@alpha.example", "nh"
        assert (await newhire.sign_in_through_rogue(tenant_a.slug)).status_code == 303
        assert _orgs(await newhire.graphql(VIEWER)) == [{"slug": "alpha", "viewerRole": "MEMBER"}]
        assert await _reaches(newhire, tenant_a.ws_gid(0))
    # Whatever the lead kept acts as the new hire nowhere the lead could not reach.
    assert not await _reaches(attacker, tenant_a.ws_gid(0))
    if kept is not None:
        assert not await _reaches(attacker, tenant_a.ws_gid(0), kept)
        assert _orgs(await attacker.with_token(kept, VIEWER)) == []


# -- account-wide operations from a session limited to one organization ---------------------


async def _consultant_in_bravo(
    client: httpx.AsyncClient, settings: Settings, database: Database, attacker: Browser,
    tenant_a: Tenant, tenant_b: Tenant, rogue_idp: RogueIdP,
) -> tuple[Browser, Any]:  # fmt: skip
    """cons@alpha.example signs in through alpha's SSO (alpha verified alpha.example), then,
    signed in, joins bravo by invitation in their own browser and mints a token there."""
    await _alpha_sso(client, tenant_a, rogue_idp)
    invited = await _invite(
        attacker, tenant_b.token, organizationId=tenant_b.org_gid, email="cons@alpha.example",
        orgRole="MEMBER",
    )  # fmt: skip
    opened = browser_for(settings, database)
    consultant = await opened.__aenter__()
    rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "cons@alpha.example", "cons"
    assert (await consultant.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    assert (await _redeem(consultant, invited["acceptUrl"])).status_code == 303
    minted = await consultant.graphql(MINT, {"name": "bravo-acquisition-roadmap"})
    assert minted["data"]["createApiToken"]["errors"] == []
    return consultant, opened


async def test_a_domain_managed_session_cannot_sign_the_person_out_of_other_organizations(
    client: httpx.AsyncClient, settings: Settings, database: Database, attacker: Browser,
    tenant_a: Tenant, tenant_b: Tenant, rogue_idp: RogueIdP,
) -> None:  # fmt: skip
    """Alpha's admin signs in as cons@alpha.example through alpha's SSO (alpha manages its
    domain: by design, a session acting in alpha only) and calls signOutEverywhere: the
    consultant's session in bravo ended too."""
    consultant, opened = await _consultant_in_bravo(
        client, settings, database, attacker, tenant_a, tenant_b, rogue_idp
    )
    try:
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "cons@alpha.example", "alpha-made"
        assert (await attacker.sign_in_through_rogue(tenant_a.slug)).status_code == 303
        answer = await attacker.graphql(SIGN_OUT_EVERYWHERE)
        assert answer["data"]["signOutEverywhere"]["errors"] == []
        assert _orgs(await consultant.graphql(VIEWER)) == [
            {"slug": "bravo", "viewerRole": "MEMBER"}
        ]
    finally:
        await opened.__aexit__(None, None, None)


async def test_a_domain_managed_session_does_not_read_the_accounts_trail_in_other_orgs(
    client: httpx.AsyncClient, settings: Settings, database: Database, attacker: Browser,
    tenant_a: Tenant, tenant_b: Tenant, rogue_idp: RogueIdP,
) -> None:  # fmt: skip
    """The same session reads viewer.auditEvents: the account's trail named the token
    minted in bravo, its workspace and its organization."""
    consultant, opened = await _consultant_in_bravo(
        client, settings, database, attacker, tenant_a, tenant_b, rogue_idp
    )
    try:
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "cons@alpha.example", "alpha-made"
        assert (await attacker.sign_in_through_rogue(tenant_a.slug)).status_code == 303
        seen = await attacker.graphql(ACCOUNT_TRAIL)
        viewer = seen["data"]["viewer"]
        assert viewer["apiTokens"]["edges"] == []  # held: tokens are filtered
        trail = viewer["auditEvents"]["edges"] if viewer["auditEvents"] else []
        assert "bravo-acquisition-roadmap" not in str(trail)
        assert str(tenant_b.organization_id) not in str(trail)
        # The consultant, through bravo, still sees their own.
        theirs = (await consultant.graphql(ACCOUNT_TRAIL))["data"]["viewer"]
        assert "bravo-acquisition-roadmap" in str(theirs["auditEvents"])
    finally:
        await opened.__aexit__(None, None, None)


# -- memberships by email alone -------------------------------------------------------------


async def test_another_organization_cannot_add_an_existing_account_by_email_alone(
    attacker: Browser, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Bravo's admin adds alpha's owner's address to a bravo workspace: the membership was
    attached to the existing account at once, with no consent, and alpha's owner's
    token (the one their scripts use) now lists and writes into bravo's workspace."""
    added = await attacker.with_token(
        tenant_b.token, ADD_MEMBER, {"ws": tenant_b.ws_gid(0), "email": tenant_a.owner_email}
    )
    assert added["data"]["addWorkspaceMember"]["errors"] != [] or not await _reaches(
        attacker, tenant_b.ws_gid(0), tenant_a.token
    )


async def test_an_address_squatted_by_another_organization_can_still_join_by_invitation(
    settings: Settings, database: Database, attacker: Browser, tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:  # fmt: skip
    """Bravo's admin adds ceo@alpha.example (no account yet) to a bravo workspace. That
    creates an account nobody has ever signed in to. When alpha (no verified domain)
    invites its CEO, the CEO opening alpha's link was told to 'sign in first' to an
    account they cannot sign in to: locked out of Waypost by any other organization."""
    added = await attacker.with_token(
        tenant_b.token, ADD_MEMBER, {"ws": tenant_b.ws_gid(0), "email": "ceo@alpha.example"}
    )
    assert added["data"]["addWorkspaceMember"]["errors"] == []
    invited = await _invite(
        attacker, tenant_a.token, organizationId=tenant_a.org_gid, email="ceo@alpha.example",
        orgRole="MEMBER",
    )  # fmt: skip
    async with browser_for(settings, database) as ceo:
        answer = await _redeem(ceo, invited["acceptUrl"])
        assert answer.status_code == 303, answer.text


# -- attacks that held ----------------------------------------------------------------------


async def test_the_linking_post_needs_our_origin_and_email_spellings_do_not_reach_the_owner(
    client: httpx.AsyncClient, database: Database, attacker: Browser, tenant_a: Tenant,
    tenant_b: Tenant, rogue_idp: RogueIdP,
) -> None:  # fmt: skip
    """Bravo verified bravo.example and runs its own provider. Its admin tries spellings of
    its owner's and alpha's owner's addresses, and a linking POST from other sites."""
    made = await create_connection(
        client, tenant_b, issuer=rogue_idp.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, allowed_domains=["bravo.example"],
    )  # fmt: skip
    assert made["errors"] == [], made
    for index, email in enumerate(
        [
            "OWNER@BRAVO.EXAMPLE",
            " owner@bravo.example ",
            "owner@bravo.example.",
            "Owner@Alpha.example",
            "owner@alpha.example.",
            "owner@alpha.example@bravo.example.",
        ]
    ):
        rogue_idp.behaviour.email, rogue_idp.behaviour.sub = email, f"spelling-{index}"
        landed = await attacker.sign_in_through_rogue(tenant_b.slug)
        assert landed.status_code == 403, email
        assert attacker.cookie(SESSION_COOKIE) is None
    # A signed-in person's browser, made to post the linking form by another site.
    rogue_idp.behaviour.email, rogue_idp.behaviour.sub = "pat@bravo.example", "pat"
    assert (await attacker.sign_in_through_rogue(tenant_b.slug)).status_code == 303
    link = f"/auth/sso/{tenant_b.slug}/login"
    for headers in (
        {"origin": "null"},
        {"origin": "https://testserver.evil.example"},
        {"origin": "https://evil.example", "referer": "https://testserver/"},
        {"origin": "", "referer": "https://evil.example/https://testserver/"},
        {"origin": ""},
    ):
        assert (await attacker.http.post(link, headers=headers)).status_code == 403, headers
