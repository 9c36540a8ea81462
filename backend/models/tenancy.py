"""Organizations, workspaces, users and the memberships that grant roles."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import Base, Timestamped, WorkspaceScoped
from backend.db.types import enum_column
from backend.vocabulary.roles import OrganizationKind, OrgRole, WorkspaceRole


class Organization(Timestamped, Base):
    __tablename__ = "organizations"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganizationKind] = mapped_column(
        enum_column(OrganizationKind, "organization_kind")
    )

    workspaces: Mapped[list[Workspace]] = relationship(back_populates="organization")


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    # Stored lower-cased; uniqueness is on the normalised address.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    # When someone first showed they control the address: an operator created the account,
    # or a provider of the organization that verified its domain signed them in. Until
    # then the account is only what invitation links made of it (backend/auth/linking.py).
    email_verified_at: Mapped[datetime | None]

    workspace_memberships: Mapped[list[WorkspaceMembership]] = relationship(
        back_populates="user", viewonly=True
    )


class OrganizationMembership(Timestamped, Base):
    __tablename__ = "organization_memberships"

    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[OrgRole] = mapped_column(enum_column(OrgRole, "org_role"))


class Workspace(Timestamped, Base):
    """The tenant: every workspace-scoped row points here by ``workspace_id``."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))

    organization: Mapped[Organization] = relationship(back_populates="workspaces")


class WorkspaceMembership(WorkspaceScoped, Timestamped, Base):
    __tablename__ = "workspace_memberships"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[WorkspaceRole] = mapped_column(enum_column(WorkspaceRole, "workspace_role"))

    user: Mapped[User] = relationship(back_populates="workspace_memberships", lazy="raise")


class Invitation(Timestamped, Base):
    """A one-time link that brings someone into an organization (as a member) or into
    one workspace (as a guest, or both). Only the link's hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    org_role: Mapped[OrgRole | None] = mapped_column(enum_column(OrgRole, "org_role"))
    # Named apart from ``workspace_id`` on purpose: an invitation is not a workspace row.
    target_workspace_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    workspace_role: Mapped[WorkspaceRole | None] = mapped_column(
        enum_column(WorkspaceRole, "workspace_role")
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
