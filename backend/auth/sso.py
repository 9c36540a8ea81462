"""Signing in through an organization's identity provider (OpenID Connect code flow).

``start`` records a login attempt (state, nonce, PKCE verifier) and answers the
provider's authorization URL; ``finish`` takes the provider's answer, spends the
attempt (once only), checks the ID token, provisions the user on a first login and
opens a session. Any refusal raises ``SignInRefused`` with a reason fit to show, and
leaves no user, membership or session behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from authlib.common.security import generate_token
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.audit.chain import changes_of
from backend.auth import domains, linking
from backend.auth.connections import client_secret
from backend.auth.oidc import OidcClient, OidcError
from backend.auth.principal import Principal
from backend.auth.sessions import NewSession, end_sessions, open_session
from backend.auth.tokens import identity_hash, presenting
from backend.authz.access import Access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding, widen_to_organization
from backend.db.types import utcnow
from backend.models import (
    Organization,
    OrganizationMembership,
    SsoConnection,
    SsoLoginAttempt,
    User,
    UserIdentity,
    UserSession,
    Workspace,
    WorkspaceMembership,
)
from backend.models.audit import ActorType
from backend.settings import Settings
from backend.tenancy import invitations
from backend.vocabulary.roles import OrgRole

CALLBACK_PATH = "/auth/sso/callback"
# Binds a login attempt to the browser that started it; distinct from the provider's
# cookies, which share the host in development.
ATTEMPT_COOKIE = "waypost_sso_attempt"
ATTEMPT_PATH = "/auth/sso"
ATTEMPT_TTL = timedelta(minutes=10)


class SignInRefused(Exception):
    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Started:
    attempt_id: UUID
    authorization_url: str


@dataclass(frozen=True)
class SignedIn:
    user_id: UUID
    session: NewSession
    return_to: str
    provisioned: bool


@dataclass(frozen=True)
class Client:
    """Where the request came from, for the audit trail and the session list."""

    ip: str | None
    user_agent: str | None
    request_id: str | None


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
        organization_id = await session.scalar(
            select(Organization.id).where(Organization.slug == org_slug.lower())
        )
        if organization_id is not None:  # signing in to an organization is public
            await widen_to_organization(session, organization_id)
        connection = await session.scalar(
            select(SsoConnection)
            .join(Organization, Organization.id == SsoConnection.organization_id)
            .where(Organization.slug == org_slug.lower(), SsoConnection.enabled.is_(True))
            .order_by(SsoConnection.created_at.desc())
            .limit(1)
        )
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
    async with db.transaction(NO_TENANT, write=True) as session:
        if db.dialect == "postgresql":
            # Row-level security shows an attempt only to whoever presents its state, or
            # to this transaction the ones expired before this moment.
            await session.execute(
                text("SELECT set_config('waypost.prune_before', :before, true)"),
                {"before": before.isoformat()},
            )
        result = await session.execute(
            delete(SsoLoginAttempt).where(SsoLoginAttempt.created_at < before)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _spend_attempt(db: Database, state: str, browser_attempt: str | None) -> SsoLoginAttempt:
    """The attempt this answer belongs to, marked used in a transaction of its own.

    Spent before anything else is checked, so a replayed answer (same state, same
    code, same nonce) is refused even if the first one failed later on. It must also
    be this browser's attempt: another person's answer pasted in (login CSRF) fails.
    """
    async with db.transaction(presenting(state), write=True) as session:
        attempt = await session.scalar(
            select(SsoLoginAttempt).where(SsoLoginAttempt.state == state).with_for_update()
        )
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
    return await _sign_in(db, settings, connection, claims, email, attempt, client)


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


async def _sign_in(
    db: Database,
    settings: Settings,
    connection: SsoConnection,
    claims: dict[str, Any],
    email: str,
    attempt: SsoLoginAttempt,
    client: Client,
) -> SignedIn:
    # The default workspaces are bound so row-level security lets their memberships in.
    workspace_ids = frozenset(UUID(i) for i in connection.default_workspace_ids)
    binding = TenantBinding(
        workspace_ids,
        organization_ids=frozenset({connection.organization_id}),
        secret_hash=identity_hash(connection.issuer, str(claims["sub"])),
    )
    async with db.transaction(binding, write=True) as session:
        # The organization owns the address's domain: its provider vouches for the mailbox.
        vouched = await _domain_is_verified(session, settings, connection, email)
        identity = await session.get(UserIdentity, (connection.issuer, str(claims["sub"])))
        user = await session.get(User, identity.user_id) if identity else None
        if user is None and attempt.linking_user_id is not None:
            user = await session.get(User, attempt.linking_user_id)
            if user is None or user.email != email:
                raise SignInRefused(
                    f"The identity provider signed you in as {email}, not as the account "
                    "you asked to link."
                )
        elif user is None:
            try:
                user = await linking.existing_account(
                    session,
                    email=email,
                    organization_id=connection.organization_id,
                    signed_in_as=None,
                )
            except linking.ControlNotShown:
                raise SignInRefused(
                    f"A Waypost account for {email} already exists and is not linked to "
                    "this sign-in. Sign in to it the way you usually do, then link this "
                    "organization's sign-in from there."
                ) from None
        elif attempt.linking_user_id is not None and attempt.linking_user_id != user.id:
            raise SignInRefused("This sign-in is already linked to another Waypost account.")
        provisioned = user is None
        if user is None:
            user = User(email=email, name=str(claims.get("name") or "")[:200])
            session.add(user)
            await session.flush()
        if not user.is_active:
            raise SignInRefused("This account is deactivated.")
        ended = 0
        if vouched and identity is None and not provisioned:
            ended = await linking.end_unproven_credentials(session, user)
        elif vouched and user.email_verified_at is None:
            user.email_verified_at = utcnow()
        if identity is None:
            session.add(
                UserIdentity(issuer=connection.issuer, subject=str(claims["sub"]), user_id=user.id)
            )
        audit.bind_actor(session, _actor(user.id, client))
        granted = await _first_login_roles(session, connection, user.id)
        opened = await open_session(
            session,
            settings,
            user_id=user.id,
            organization_id=connection.organization_id,
            ip=client.ip,
            user_agent=client.user_agent,
        )
        await audit.record(
            session,
            organization_id=connection.organization_id,
            action="session.sign_in",
            subject_type="UserSession",
            subject_id=opened.id,
            changes=changes_of(
                {},
                {
                    "user_id": str(user.id),
                    "email": email,
                    "sso_connection_id": str(connection.id),
                    "provisioned": provisioned,
                    "linked": identity is None,
                    "earlier_credentials_ended": ended,
                    "granted": granted,
                },
            ),
        )
    return SignedIn(user.id, opened, attempt.return_to, provisioned)


async def _domain_is_verified(
    session: AsyncSession, settings: Settings, connection: SsoConnection, email: str
) -> bool:
    """Whether the organization verified the address's domain; if not, the sign-in is
    refused (unless development allows unverified domains). Checked at every sign-in: a
    domain whose claim was removed admits no one."""
    if domains.domain_of(email) in await domains.verified_domains(
        session, connection.organization_id
    ):
        return True
    if settings.sso_allow_unverified_domains:
        return False
    raise SignInRefused(
        f"This organization has not verified the domain of {email}, so its sign-in cannot admit it."
    )


async def _first_login_roles(
    session: AsyncSession, connection: SsoConnection, user_id: UUID
) -> dict[str, str]:
    """On a user's first sign-in to this organization: org MEMBER and the default role."""
    member = await session.get(OrganizationMembership, (connection.organization_id, user_id))
    if member is not None:
        return {}
    session.add(
        OrganizationMembership(
            organization_id=connection.organization_id, user_id=user_id, role=OrgRole.MEMBER
        )
    )
    granted = {"organization": OrgRole.MEMBER.value}
    workspaces = (
        await session.scalars(
            select(Workspace.id).where(
                Workspace.organization_id == connection.organization_id,
                Workspace.id.in_([UUID(i) for i in connection.default_workspace_ids]),
            )
        )
    ).all()
    for workspace_id in workspaces:
        existing = await session.scalar(
            select(WorkspaceMembership).where(
                WorkspaceMembership.workspace_id == workspace_id,
                WorkspaceMembership.user_id == user_id,
            )
        )
        if existing is None:
            session.add(
                WorkspaceMembership(
                    workspace_id=workspace_id, user_id=user_id, role=connection.default_role
                )
            )
            granted[str(workspace_id)] = connection.default_role.value
    await session.flush()
    return granted


async def sign_out(db: Database, principal: Principal, client: Client) -> None:
    """End the caller's session (this browser only)."""
    if principal.session_id is None:
        return
    async with db.transaction(TenantBinding(account_id=principal.user_id), write=True) as session:
        audit.bind_actor(session, _actor(principal.user_id, client))
        if await end_sessions(session, user_id=principal.user_id, session_id=principal.session_id):
            await audit.record(
                session,
                user_id=principal.user_id,
                action="session.sign_out",
                subject_type="UserSession",
                subject_id=principal.session_id,
                changes=changes_of({"ended": False}, {"ended": True}),
            )


def _actor(user_id: UUID, client: Client) -> Actor:
    return Actor(
        ActorType.USER,
        user_id=user_id,
        request_id=client.request_id,
        ip=client.ip,
        user_agent=client.user_agent,
    )


async def sign_out_everywhere(
    session: AsyncSession, access: Access, *, keep_this_session: bool
) -> int:
    """End every browser session of the caller (but the asking one, if so wished).

    A caller acting in one organization ends only the sessions opened through it: a
    session an organization opened (its SSO for a domain it manages, say) must not sign
    the person out of the others.
    """
    access.require_writable()
    principal = access.principal
    keep = principal.session_id if keep_this_session else None
    statement = update(UserSession).where(
        UserSession.user_id == principal.user_id, UserSession.revoked_at.is_(None)
    )
    if principal.restricted_organization_id is not None:
        statement = statement.where(
            UserSession.organization_id == principal.restricted_organization_id
        )
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    result = await session.execute(statement.values(revoked_at=utcnow()))
    ended = int(getattr(result, "rowcount", 0) or 0)
    await audit.record(
        session,
        user_id=principal.user_id,
        action="session.sign_out_everywhere",
        subject_type="User",
        subject_id=principal.user_id,
        changes=changes_of({}, {"sessions_ended": ended}),
    )
    return ended


async def sign_in_by_invitation(
    db: Database, settings: Settings, secret: str, client: Client, *, signed_in_as: UUID | None
) -> SignedIn:
    """Spend an invitation link: the person's account and roles, and a session that acts
    in the inviting organization only.

    ``signed_in_as`` is the account this browser is signed in as, if any: the only way
    an invitation reaches an existing account its organization does not manage.
    """
    async with db.transaction(presenting(secret)) as session:
        invitation, _organization = await invitations.usable_invitation(session, secret)
        workspace_id = invitation.target_workspace_id
    # Bound to the invited workspace, so row-level security lets its membership in.
    binding = TenantBinding(
        frozenset({workspace_id}) if workspace_id else frozenset(),
        organization_ids=frozenset({invitation.organization_id}),
        secret_hash=presenting(secret).secret_hash,
    )
    async with db.transaction(binding, write=True) as session:
        invitation, _organization = await invitations.usable_invitation(session, secret)
        audit.bind_actor(session, _actor(signed_in_as, client) if signed_in_as else Actor.system())
        user, created = await invitations.accept(session, invitation, signed_in_as=signed_in_as)
        opened = await open_session(
            session,
            settings,
            user_id=user.id,
            organization_id=invitation.organization_id,
            ip=client.ip,
            user_agent=client.user_agent,
        )
    return SignedIn(user.id, opened, "/", provisioned=created)
