"""Personal API tokens: stored as a hash, shown once, revocable."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped


class ApiToken(Timestamped, Base):
    __tablename__ = "api_tokens"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The first characters of the secret, for people to recognise a token in a list.
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Optional limits: one workspace only, and/or read-only.
    # Named apart from ``workspace_id`` on purpose: a token is not a workspace row.
    restricted_workspace_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    read_only: Mapped[bool] = mapped_column(default=False)
    # Minted through a session (or token) that acts in one organization only: this token
    # inherits that limit, so no credential reaches further than the one that made it.
    restricted_organization_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class IngestionToken(Timestamped, Base):
    """A workspace's key for sending feedback over HTTP, and nothing else."""

    __tablename__ = "ingestion_tokens"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    # Named apart from ``workspace_id`` on purpose: a token is not a workspace row (it is
    # looked up by its hash before any workspace is known).
    ingest_workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
