"""The audit trail: append-only events in per-scope hash chains, and their heads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, WorkspaceScoped
from backend.db.types import WrittenJSON, enum_column, utcnow


class ActorType(StrEnum):
    USER = "USER"  # signed in through SSO (a later issue)
    API_TOKEN = "API_TOKEN"  # noqa: S105 - a kind of actor, not a secret
    SYSTEM = "SYSTEM"  # the CLI, scheduled jobs, workers
    INGESTION_TOKEN = "INGESTION_TOKEN"  # noqa: S105 - a workspace's feedback ingestion token


class AuditScope(StrEnum):
    WORKSPACE = "WORKSPACE"
    ORGANIZATION = "ORGANIZATION"
    USER = "USER"  # a person's own account: their API tokens


class _AuditColumns:
    """What every audit event records, whatever its scope."""

    sequence: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[ActorType] = mapped_column(enum_column(ActorType, "audit_actor_type"))
    actor_user_id: Mapped[UUID | None]
    # The API token, or for INGESTION_TOKEN the ingestion token, the change came through.
    actor_token_id: Mapped[UUID | None]
    action: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(80))
    subject_id: Mapped[str] = mapped_column(String(80))
    # Kept as written: read back, and put into answers, exactly as hashed.
    changes: Mapped[dict[str, Any]] = mapped_column(WrittenJSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    prev_hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 under the key ``key_id`` names (backend/crypto/audit_keys.py); "sha256" for
    # events written before chains were keyed.
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(40))


class AuditEvent(WorkspaceScoped, _AuditColumns, Base):
    """An event in a workspace's chain. The application may insert and read, never change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("workspace_id", "sequence"),
        Index("ix_audit_events_workspace_id_occurred_at", "workspace_id", "occurred_at"),
    )


class AccountAuditEvent(_AuditColumns, Base):
    """An event in an organization's or a user's chain (above any one workspace)."""

    __tablename__ = "account_audit_events"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "sequence"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    scope: Mapped[AuditScope] = mapped_column(enum_column(AuditScope, "audit_scope"))
    scope_id: Mapped[UUID]


class ChainHead(Base):
    """The latest link of each chain, locked by every writer so chains never fork.

    Keeping the head apart from the events also makes a deleted last event
    detectable: the chain would end before its head says it does.
    """

    __tablename__ = "chain_heads"

    scope: Mapped[AuditScope] = mapped_column(
        enum_column(AuditScope, "chain_head_scope"), primary_key=True
    )
    scope_id: Mapped[UUID] = mapped_column(primary_key=True)
    audit_sequence: Mapped[int] = mapped_column(default=0)
    audit_hash: Mapped[str | None] = mapped_column(String(64))
    # Domain events of a workspace are numbered under the same lock, in commit order.
    outbox_sequence: Mapped[int] = mapped_column(default=0)


class AuditVerification(WorkspaceScoped, Base):
    """How far a workspace's chain has been verified, and what was found.

    One row per workspace (its ``id`` is the workspace id): a checkpoint the
    verifier moves forward, so each run reads only the events added since.
    """

    __tablename__ = "audit_verifications"

    verified_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_sequence: Mapped[int] = mapped_column(default=0)
    verified_hash: Mapped[str | None] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(default=True)
    problem: Mapped[str | None] = mapped_column(Text)
