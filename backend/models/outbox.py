"""Transactional outbox and dead letters of background work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, WorkspaceScoped
from backend.db.types import JSONDocument, utcnow

# An event still to be handled: neither processed nor given up on.
_PENDING = "processed_at IS NULL AND dead_lettered_at IS NULL"


class OutboxEvent(WorkspaceScoped, Base):
    """A domain event, written in the same transaction as the change it reports.

    The relay hands it to the broker (``dispatched_at``); the worker that handles
    it marks it ``processed_at`` in the transaction of its effect. An event
    dispatched but never processed (a lost in-memory message, a killed worker) is
    dispatched again after a while: delivery is at least once, handling is
    idempotent. One whose retries ran out is ``dead_lettered_at``: it waits for an
    admin's replay instead of being sent again and again.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("workspace_id", "sequence"),
        Index("ix_outbox_events_pending", "processed_at", "workspace_id", "sequence"),
        # What the relay may send, by dispatch time: its lookup reads the due events
        # only, not every one in flight (migrations/versions/0028).
        Index(
            "ix_outbox_events_due",
            "dispatched_at",
            postgresql_where=text(_PENDING),
            sqlite_where=text(_PENDING),
        ),
    )

    sequence: Mapped[int]
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
    dispatch_count: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
    dead_lettered_at: Mapped[datetime | None]


class DeadLetter(WorkspaceScoped, Base):
    """A message whose retries ran out, kept for admins to read and replay."""

    __tablename__ = "dead_letters"

    actor: Mapped[str] = mapped_column(String(120))
    queue: Mapped[str] = mapped_column(String(120))
    message_id: Mapped[str] = mapped_column(String(64))
    args: Mapped[list[Any]] = mapped_column(JSONDocument)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    error: Mapped[str] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(default=0)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None]
