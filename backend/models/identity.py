"""Signing in through an organization's identity provider: connections, links, sessions."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped
from backend.db.types import JSONDocument, enum_column, utcnow
from backend.vocabulary.roles import WorkspaceRole


class SsoConnection(Timestamped, Base):
    """An organization's OpenID provider, and what a first login there is given."""

    __tablename__ = "sso_connections"
    __table_args__ = (UniqueConstraint("organization_id", "issuer"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # Fernet token (backend.auth.secrets): never stored, logged or returned in clear.
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    allowed_domains: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    default_role: Mapped[WorkspaceRole] = mapped_column(
        enum_column(WorkspaceRole, "workspace_role")
    )
    # Workspaces (ids as text) a first login joins with ``default_role``.
    default_workspace_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)


class UserIdentity(Timestamped, Base):
    """A provider's subject, linked to the user it signed in as (found again by ``sub``)."""

    __tablename__ = "user_identities"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class SsoLoginAttempt(Base):
    """One trip to the provider: its state, nonce and PKCE verifier, usable once."""

    __tablename__ = "sso_login_attempts"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    state: Mapped[str] = mapped_column(String(128), unique=True)
    nonce: Mapped[str] = mapped_column(String(128), unique=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    connection_id: Mapped[UUID] = mapped_column(
        ForeignKey("sso_connections.id", ondelete="CASCADE"), index=True
    )
    # Where to send the browser afterwards: a path on this site only.
    return_to: Mapped[str] = mapped_column(String(500), default="/")
    # Set when a signed-in person asked (same-origin POST) to link this provider's
    # identity to their account: the only way a login reaches an existing account by
    # the person's own say-so, rather than by a link made before or a verified domain.
    linking_user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class UserSession(Base):
    """A signed-in browser: server-side, so it can be revoked at once."""

    __tablename__ = "user_sessions"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The organization whose provider signed the user in: leaving it ends the session.
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute: however active, the session ends here
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))


class OrganizationDomain(Timestamped, Base):
    """An email domain an organization claims, and whether it proved it owns it (DNS TXT).

    A verified domain lets the organization's single sign-on and invitations reach the
    existing accounts at that domain; a domain is verified by at most one organization
    (the partial unique index), so no other organization ever gains that power.
    """

    __tablename__ = "organization_domains"
    __table_args__ = (
        UniqueConstraint("organization_id", "domain"),
        Index(
            "uq_organization_domains_verified_domain",
            "domain",
            unique=True,
            sqlite_where=text("verified_at IS NOT NULL"),
            postgresql_where=text("verified_at IS NOT NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253))
    # What the TXT record must say; random, so a claim cannot reuse another's proof.
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
