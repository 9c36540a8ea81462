"""Signing in through an organization's identity provider (OpenID Connect code flow).

``start`` records a login attempt (state, nonce, PKCE verifier) and answers the
provider's authorization URL; ``finish`` takes the provider's answer, spends the
attempt (once only), checks the ID token, then ``backend/auth/provisioning.py``
provisions the user on a first login and opens a session. Any refusal raises
``SignInRefused`` with a reason fit to show, and leaves no user, membership or session
behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from authlib.common.security import generate_token

from backend.auth import provisioning, repository
from backend.auth.connections import client_secret
from backend.auth.oidc import OidcClient, OidcError
from backend.auth.sign_in import Client, SignedIn, SignInRefused
from backend.auth.tokens import presenting
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, widen_to_organization
from backend.db.types import utcnow
from backend.models import SsoConnection, SsoLoginAttempt
from backend.settings import Settings

CALLBACK_PATH = "/auth/sso/callback"
# Binds a login attempt to the browser that started it; distinct from the provider's
# cookies, which share the host in development.
ATTEMPT_COOKIE = "waypost_sso_attempt"
ATTEMPT_PATH = "/auth/sso"
ATTEMPT_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Started:
    attempt_id: UUID
    authorization_url: str


def redirect_uri(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + CALLBACK_PATH


def safe_return_path(value: str | None) -> str:
    """A path on this site; anything else (another host, a scheme) goes home instead.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so a
    slash, a tab and "/evil.example" would become "//evil.example": any control
    character, space or backslash sends home.
    """
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or any(c == "\\" or ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    ):
        return "/"
    return value[:500]


async def start(
    db: Database,
    settings: Settings,
    oidc: OidcClient,
    org_slug: str,
    return_to: str | None,
    *,
    linking_user_id: UUID | None = None,
) -> Started:
    """Begin a sign-in at the organization's provider.

    ``linking_user_id``: the signed-in account that asked, by a same-origin POST, to
    link this provider's identity to itself (never set from a plain link, which any
    site can make a browser open).
    """
    async with db.transaction(NO_TENANT) as session:
        organization_id = await repository.organization_id_by_slug(session, org_slug.lower())
        if organization_id is not None:  # signing in to an organization is public
            await widen_to_organization(session, organization_id)
        connection = await repository.enabled_connection_by_slug(session, org_slug.lower())
    if connection is None:
        raise SignInRefused("This organization has no single sign-on set up.", status=404)
    try:
        metadata = await oidc.metadata(connection.issuer)
    except OidcError as error:
        raise SignInRefused(error.reason, status=502) from None
    attempt = SsoLoginAttempt(
        state=generate_token(48),
        nonce=generate_token(48),
        code_verifier=generate_token(64),
        connection_id=connection.id,
        return_to=safe_return_path(return_to),
        linking_user_id=linking_user_id,
    )
    async with db.transaction(presenting(attempt.state), write=True) as session:
        session.add(attempt)
    url = oidc.authorization_url(
        metadata,
        client_id=connection.client_id,
        redirect_uri=redirect_uri(settings),
        state=attempt.state,
        nonce=attempt.nonce,
        code_verifier=attempt.code_verifier,
    )
    return Started(attempt.id, url)


async def prune_expired_attempts(db: Database) -> int:
    """Delete attempts past their lifetime: spent or not, they can no longer sign anyone in."""
    before = utcnow() - ATTEMPT_TTL
    # The background job's entry point: one short transaction of its own.
    async with db.transaction(NO_TENANT, write=True) as session:
        return await repository.delete_attempts_before(session, before, db.dialect)


async def _spend_attempt(db: Database, state: str, browser_attempt: str | None) -> SsoLoginAttempt:
    """The attempt this answer belongs to, marked used in a transaction of its own.

    Spent before anything else is checked, so a replayed answer (same state, same
    code, same nonce) is refused even if the first one failed later on. It must also
    be this browser's attempt: another person's answer pasted in (login CSRF) fails.
    """
    async with db.transaction(presenting(state), write=True) as session:
        attempt = await repository.attempt_for_update(session, state)
        if attempt is None or attempt.used_at is not None:
            raise SignInRefused("This sign-in link is not valid any more. Please start again.")
        attempt.used_at = utcnow()
    if browser_attempt != str(attempt.id):
        raise SignInRefused("This sign-in was started in another browser. Please start again.")
    if attempt.created_at < utcnow() - ATTEMPT_TTL:
        raise SignInRefused("This sign-in took too long. Please start again.")
    return attempt


async def finish(
    db: Database,
    settings: Settings,
    oidc: OidcClient,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    browser_attempt: str | None,
    client: Client,
    issuer: str | None = None,
) -> SignedIn:
    if not state:
        raise SignInRefused("The identity provider's answer has no state.", status=400)
    attempt = await _spend_attempt(db, state, browser_attempt)
    if error:
        raise SignInRefused(f"The identity provider did not sign you in ({error[:100]}).")
    if not code:
        raise SignInRefused("The identity provider's answer has no code.", status=400)
    async with db.transaction(presenting(state)) as session:
        connection = await session.get(SsoConnection, attempt.connection_id)
    if connection is None or not connection.enabled:
        raise SignInRefused("This organization's single sign-on is switched off.")
    if issuer is not None and issuer != connection.issuer:
        # RFC 9207: the answer names another provider than the one we sent the user to.
        raise SignInRefused("The answer comes from another identity provider.")
    try:
        metadata = await oidc.metadata(connection.issuer)
        tokens = await oidc.exchange_code(
            metadata,
            client_id=connection.client_id,
            client_secret=client_secret(settings, connection),
            redirect_uri=redirect_uri(settings),
            code=code,
            code_verifier=attempt.code_verifier,
        )
        claims = await oidc.verify_id_token(
            metadata, tokens["id_token"], client_id=connection.client_id, nonce=attempt.nonce
        )
        if "email" not in claims and isinstance(tokens.get("access_token"), str):
            extra = await oidc.userinfo(metadata, tokens["access_token"])
            if extra.get("sub") == claims["sub"]:  # OIDC Core §5.3.2: same subject or ignore
                claims = {**extra, **claims}
    except OidcError as failure:
        raise SignInRefused(failure.reason) from None
    email = _allowed_email(claims, connection)
    return await provisioning.sign_in(db, settings, connection, claims, email, attempt, client)


def _allowed_email(claims: dict[str, Any], connection: SsoConnection) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInRefused("The identity provider did not say who you are (no email).")
    if claims.get("email_verified") is not True:
        raise SignInRefused("Your identity provider has not verified your email address.")
    email = email.strip().lower()
    if email.rsplit("@", 1)[1] not in connection.allowed_domains:
        raise SignInRefused(
            f"{email} may not sign in here: this organization allows "
            + ", ".join(f"@{domain}" for domain in connection.allowed_domains)
            + "."
        )
    return email
