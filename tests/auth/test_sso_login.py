"""Single sign-on against a provider we can bend: every refusal a sign-in must make, sessions,
CSRF, logout. (The same flow against a certified provider: test_sso_real_provider.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.oidc import OidcClient
from backend.auth.sessions import SESSION_COOKIE
from backend.crypto.encryption import UndecryptableSecretError, decrypt
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import AuditEvent, SsoConnection, User, UserSession
from backend.models.audit import AccountAuditEvent
from backend.settings import Settings
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.rogue_idp import CLIENT_ID, CLIENT_SECRET, OMIT, RogueIdP
from tests.fixtures.sso import APP_ORIGIN, Browser, browser_for, counts, create_connection
from tests.fixtures.tenants import Tenant, add_guest

VIEWER = """{ viewer { user { email } workspaces { edges { node { id viewerRole } } } } }"""
CREATE_WORKSPACE = """mutation($org: ID!) { createWorkspace(input: {organizationId: $org,
  name: "From the browser"}) { workspace { id } errors { code } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def connection(
    client: httpx.AsyncClient, tenant_a: Tenant, rogue_idp: RogueIdP
) -> dict[str, Any]:
    payload = await create_connection(
        client,
        tenant_a,
        issuer=rogue_idp.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_domains=["acme.example"],
        default_role="EDITOR",
    )
    assert payload["errors"] == [], payload
    return dict(payload["ssoConnection"])


@pytest_asyncio.fixture(loop_scope="session")
async def browser(settings: Settings, database: Database) -> AsyncIterator[Browser]:
    async with browser_for(settings, database) as opened:
        yield opened


async def _refused(
    browser: Browser, tenant: Tenant, owner: AsyncEngine, reason: str
) -> httpx.Response:
    """Sign in, expecting a refusal page naming ``reason``, and nothing created."""
    before = await counts(owner)
    landed = await browser.sign_in_through_rogue(tenant.slug)
    assert landed.status_code in (400, 403), landed.text
    assert "Sign-in refused" in landed.text
    assert reason in landed.text, landed.text
    assert browser.cookie(SESSION_COOKIE) is None
    assert await counts(owner) == before
    return landed


# -- the happy path -----------------------------------------------------------------------


async def test_first_sign_in_provisions_the_user_with_the_default_role(
    browser: Browser,
    connection: dict[str, Any],
    tenant_a: Tenant,
    rogue_idp: RogueIdP,
    inspector_engine: AsyncEngine,
) -> None:
    before = await counts(inspector_engine)
    start = await browser.start(tenant_a.slug, next_path="/maps/42")
    assert start.status_code == 302
    authorize = urlsplit(start.headers["location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}" == rogue_idp.issuer
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "https://testserver/auth/sso/callback"
    assert params["code_challenge_method"] == "S256"
    assert set(params["scope"].split()) >= {"openid", "email"}
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32

    landed = await browser.callback(await browser.follow_to_app(start))
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/maps/42"
    # PKCE: the verifier behind the challenge went with the code.
    assert rogue_idp.last_token_form["code_verifier"]

    session_cookie = browser.cookie(SESSION_COOKIE)
    assert session_cookie is not None
    assert session_cookie.secure
    assert session_cookie.has_nonstandard_attr("HttpOnly")
    set_cookie = " ".join(landed.headers.get_list("set-cookie")).lower()
    assert "samesite=lax" in set_cookie
    assert "httponly" in set_cookie

    body = await browser.graphql(VIEWER)
    assert body["data"]["viewer"]["user"] == {"email": "alice@acme.example"}
    assert [e["node"] for e in body["data"]["viewer"]["workspaces"]["edges"]] == [
        {"id": tenant_a.ws_gid(0), "viewerRole": "EDITOR"}
    ]
    after = await counts(inspector_engine)
    assert (after.users, after.org_members, after.sessions) == (
        before.users + 1,
        before.org_members + 1,
        before.sessions + 1,
    )
    async with inspector_engine.connect() as conn:
        event = (
            await conn.execute(
                select(AccountAuditEvent).where(AccountAuditEvent.action == "session.sign_in")
            )
        ).one()
    assert event.actor_type == "USER"
    assert event.changes["provisioned"]["after"] is True


async def test_a_second_sign_in_finds_the_same_user_and_grants_nothing_new(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    async with browser_for(settings, database) as first:
        assert (await first.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    between = await counts(inspector_engine)
    async with browser_for(settings, database) as second:
        assert (await second.sign_in_through_rogue(tenant_a.slug)).status_code == 303
        body = await second.graphql(VIEWER)
        assert body["data"]["viewer"]["user"] == {"email": "alice@acme.example"}
    after = await counts(inspector_engine)
    assert (after.users, after.org_members, after.workspace_members) == (
        between.users,
        between.org_members,
        between.workspace_members,
    )
    assert after.sessions == between.sessions + 1


# -- refusals -----------------------------------------------------------------------------


async def test_a_wrong_state_is_refused(
    browser: Browser, connection: dict[str, Any], tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    before = await counts(inspector_engine)
    answer = await browser.follow_to_app(await browser.start(tenant_a.slug))
    location = answer.headers["location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    landed = await browser.http.get(location.replace(state, "forged" + state[6:]))
    assert landed.status_code == 403
    assert "not valid any more" in landed.text
    assert await counts(inspector_engine) == before


async def test_a_replayed_answer_is_refused(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    async with browser_for(settings, database) as browser:
        answer = await browser.follow_to_app(await browser.start(tenant_a.slug))
        assert (await browser.callback(answer)).status_code == 303
        before = await counts(inspector_engine)
        again = await browser.callback(answer)  # same code, state and nonce
    assert again.status_code == 403
    assert "not valid any more" in again.text
    assert await counts(inspector_engine) == before


async def test_an_answer_carried_to_another_browser_is_refused(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    """Login CSRF: an attacker's own sign-in link, opened in the victim's browser."""
    async with browser_for(settings, database) as attacker:
        answer = await attacker.follow_to_app(await attacker.start(tenant_a.slug))
    before = await counts(inspector_engine)
    async with browser_for(settings, database) as victim:
        landed = await victim.callback(answer)
        assert victim.cookie(SESSION_COOKIE) is None
    assert landed.status_code == 403
    assert "started in another browser" in landed.text
    assert await counts(inspector_engine) == before


@pytest.mark.parametrize(
    ("bend", "reason"),
    [
        pytest.param({"nonce": OMIT}, "nonce is missing or wrong", id="missing-nonce"),
        pytest.param({"nonce": "not-this-login"}, "nonce is missing or wrong", id="wrong-nonce"),
        pytest.param({"issuer": "https://evil.example"}, "iss is missing or wrong", id="issuer"),
        pytest.param({"audience": "someone-else"}, "aud is missing or wrong", id="audience"),
        pytest.param({"expired": True}, "ID token has expired", id="expired"),
        pytest.param({"alg_none": True}, "not signed with an accepted algorithm", id="alg-none"),
        pytest.param(
            {"sign_with_unpublished_key": True}, "a key the provider does not publish", id="kid"
        ),
        pytest.param({"email_verified": False}, "not verified your email", id="unverified"),
        pytest.param(
            {"email": "mallory@evil.example"}, "allows @acme.example", id="outside-domains"
        ),
    ],
)
async def test_an_untrustworthy_id_token_is_refused_and_creates_nothing(
    bend: dict[str, Any],
    reason: str,
    browser: Browser,
    connection: dict[str, Any],
    tenant_a: Tenant,
    rogue_idp: RogueIdP,
    inspector_engine: AsyncEngine,
) -> None:
    for name, value in bend.items():
        setattr(rogue_idp.behaviour, name, value)
    if "email" in bend:
        rogue_idp.behaviour.sub = "mallory"  # someone who never signed in before
    await _refused(browser, tenant_a, inspector_engine, reason)


async def test_after_a_key_rotation_sign_in_works_with_one_key_set_refetch(
    settings: Settings,
    database: Database,
    connection: dict[str, Any],
    tenant_a: Tenant,
    rogue_idp: RogueIdP,
    inspector_engine: AsyncEngine,
) -> None:
    oidc = OidcClient(settings, refetch_interval=3600)  # one process's key cache across sign-ins
    async with browser_for(settings, database, oidc) as browser:
        assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    assert rogue_idp.jwks_fetches == 1
    rogue_idp.rotate_keys()
    async with browser_for(settings, database, oidc) as browser:
        assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    assert rogue_idp.jwks_fetches == 2
    # Refetches are rate-limited: a token with an unknown key id right after is
    # refused without asking the provider again.
    rogue_idp.behaviour.sign_with_unpublished_key = True
    async with browser_for(settings, database, oidc) as browser:
        await _refused(browser, tenant_a, inspector_engine, "a key the provider does not publish")
    assert rogue_idp.jwks_fetches == 2


async def test_a_disabled_connection_signs_no_one_in(
    client: httpx.AsyncClient, browser: Browser, connection: dict[str, Any], tenant_a: Tenant
) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": """mutation($id: ID!) { disableSsoConnection(input: {id: $id}) {
                          ssoConnection { enabled } errors { code } } }""",
            "variables": {"id": connection["id"]},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert response.json()["data"]["disableSsoConnection"] == {
        "ssoConnection": {"enabled": False},
        "errors": [],
    }
    start = await browser.start(tenant_a.slug)
    assert start.status_code == 404
    assert "no single sign-on" in start.text


# -- sessions -----------------------------------------------------------------------------


async def test_cookie_mutations_need_the_csrf_header_and_bearer_calls_do_not(
    browser: Browser, connection: dict[str, Any], tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    # Make alice an org admin so the mutation itself would be allowed.
    async with inspector_engine.begin() as conn:
        from backend.models import OrganizationMembership

        await conn.execute(
            update(OrganizationMembership)
            .where(OrganizationMembership.organization_id == tenant_a.organization_id)
            .where(
                OrganizationMembership.user_id
                == select(User.id).where(User.email == "alice@acme.example").scalar_subquery()
            )
            .values(role="ADMIN")
        )
    variables = {"org": tenant_a.org_gid}
    refused = await browser.graphql(CREATE_WORKSPACE, variables, csrf=False)
    assert "data" not in refused  # refused before anything ran
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "X-Waypost-CSRF" in refused["errors"][0]["message"]
    async with inspector_engine.connect() as conn:
        names = (await conn.execute(select(AuditEvent.action))).scalars().all()
    assert "workspace.create" not in names
    # Reads need no CSRF token; the mutation with it goes through.
    assert (await browser.graphql(VIEWER, csrf=False))["data"]["viewer"]["user"]
    allowed = await browser.graphql(CREATE_WORKSPACE, variables)
    assert allowed["data"]["createWorkspace"]["errors"] == []


async def test_logout_ends_the_session(
    browser: Browser, connection: dict[str, Any], tenant_a: Tenant
) -> None:
    assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    secret = browser.cookie(SESSION_COOKIE).value  # type: ignore[union-attr]
    without_csrf = await browser.http.post("https://testserver/auth/logout")
    assert without_csrf.status_code == 403
    out = await browser.http.post(
        "https://testserver/auth/logout", headers={"x-waypost-csrf": browser.csrf() or ""}
    )
    assert out.status_code == 204
    assert browser.cookie(SESSION_COOKIE) is None
    # The old cookie is dead on the server too, not just forgotten by this browser (sent
    # by hand: the jar no longer holds it).
    replayed = await browser.http.post(
        f"{APP_ORIGIN}/graphql",
        json={"query": VIEWER},
        headers={"Cookie": f"{SESSION_COOKIE}={secret}"},
    )
    assert replayed.status_code == 401
    error = replayed.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "INVALID"}


@pytest.mark.parametrize(
    "expire",
    [
        pytest.param({"last_seen_at": utcnow() - timedelta(hours=9)}, id="idle"),
        pytest.param({"expires_at": utcnow() - timedelta(seconds=1)}, id="absolute"),
    ],
)
async def test_an_expired_session_is_unauthenticated(
    expire: dict[str, Any],
    browser: Browser,
    connection: dict[str, Any],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
) -> None:
    assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    assert (await browser.graphql(VIEWER))["data"]["viewer"]["user"]
    async with inspector_engine.begin() as conn:
        await conn.execute(update(UserSession).values(**expire))
    body = await browser.graphql(VIEWER)  # 401, checked by the browser's client
    error = body["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "EXPIRED"}
    assert "expired" in error["message"]


async def test_sign_out_everywhere_ends_every_browser_session(
    settings: Settings, database: Database, connection: dict[str, Any], tenant_a: Tenant
) -> None:
    mutation = """mutation { signOutEverywhere(input: {}) { sessionsEnded errors { code } } }"""
    async with browser_for(settings, database) as laptop, browser_for(settings, database) as phone:
        for browser in (laptop, phone):
            assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
        body = await phone.graphql(mutation)
        assert body["data"]["signOutEverywhere"] == {"sessionsEnded": 2, "errors": []}
        for browser in (laptop, phone):
            answer = await browser.graphql(VIEWER)
            assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- the connection's secret ----------------------------------------------------------------


async def test_the_client_secret_is_encrypted_at_rest_and_never_returned(
    connection: dict[str, Any],
    settings: Settings,
    inspector_engine: AsyncEngine,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
) -> None:
    assert connection["hasClientSecret"] is True
    assert CLIENT_SECRET not in str(connection)
    async with inspector_engine.connect() as conn:
        stored = (await conn.execute(select(SsoConnection.client_secret_encrypted))).scalar_one()
        trail = (await conn.execute(select(AccountAuditEvent.changes))).scalars().all()
    assert CLIENT_SECRET not in stored
    assert decrypt(settings.secret_key, "sso client secret", stored) == CLIENT_SECRET
    with pytest.raises(UndecryptableSecretError):
        decrypt("another-secret-key-" + "x" * 32, "sso client secret", stored)
    assert all(CLIENT_SECRET not in str(changes) for changes in trail)
    listed = await client.post(
        "/graphql",
        json={
            "query": """query($slug: String!) { organization(slug: $slug) {
                          ssoConnections { id clientId hasClientSecret } } }""",
            "variables": {"slug": tenant_a.slug},
        },
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )
    assert CLIENT_SECRET not in listed.text
    assert listed.json()["data"]["organization"]["ssoConnections"] == [
        {"id": connection["id"], "clientId": CLIENT_ID, "hasClientSecret": True}
    ]


async def test_a_session_reaches_only_the_organization_that_signed_it_in(
    browser: Browser,
    connection: dict[str, Any],
    database: Database,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    """Another organization's provider (or its admin) vouches for nothing beyond it."""
    _, token = await add_guest(
        database, tenant_b.workspace_ids[0], "alice@acme.example", WorkspaceRole.ADMIN
    )
    assert (await browser.sign_in_through_rogue(tenant_a.slug)).status_code == 303
    body = await browser.graphql(VIEWER)
    assert [e["node"]["id"] for e in body["data"]["viewer"]["workspaces"]["edges"]] == [
        tenant_a.ws_gid(0)
    ]
    theirs = await browser.graphql(
        "query($ws: ID!) { workspace(id: $ws) { id } }", {"ws": tenant_b.ws_gid(0)}
    )
    assert theirs["data"] == {"workspace": None}
    # Alice's own token still reaches her guest workspace in B.
    with_token = await browser.with_token(
        token, "query($ws: ID!) { workspace(id: $ws) { id } }", {"ws": tenant_b.ws_gid(0)}
    )
    assert with_token["data"] == {"workspace": {"id": tenant_b.ws_gid(0)}}
