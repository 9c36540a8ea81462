"""Declarative base and the mixin that makes a table workspace-scoped."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import ForeignKey, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from backend.db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, UUID: Uuid}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkspaceScoped:
    """A row that belongs to exactly one workspace.

    The primary key is ``(workspace_id, id)`` so every foreign key between
    workspace tables must carry ``workspace_id`` too: a row can never point into
    another workspace, and the table is ready to be distributed by workspace
    (Citus). Session-level criteria (backend.db.scoping) and, on Postgres,
    row-level security (migrations.rls) filter these tables for every query.
    """

    @declared_attr
    @classmethod
    def workspace_id(cls) -> Mapped[UUID]:
        return mapped_column(
            ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True, sort_order=-20
        )

    @declared_attr
    @classmethod
    def id(cls) -> Mapped[UUID]:
        return mapped_column(primary_key=True, default=uuid4, sort_order=-10)


def workspace_tables() -> list[str]:
    """Names of every table carrying ``workspace_id`` (the ones RLS must cover)."""
    return sorted(t.name for t in Base.metadata.sorted_tables if "workspace_id" in t.c)
