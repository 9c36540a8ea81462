"""Audit trail (hash chains and heads), transactional outbox, dead letters.

The application role may insert and read audit events but never change or
delete them. Outbox discovery across workspaces goes through a SECURITY
DEFINER function that returns workspace ids only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import JSONDocument, UTCDateTime
from migrations import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "actor_type", _enum("audit_actor_type", "USER", "API_TOKEN", "SYSTEM"), nullable=False
        ),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_token_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("subject_type", sa.String(length=80), nullable=False),
        sa.Column("subject_id", sa.String(length=80), nullable=False),
        sa.Column("changes", JSONDocument, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    ]


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def _workspace_key() -> list[sa.Column[object]]:
    return [
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


SCOPES = ("WORKSPACE", "ORGANIZATION", "USER")


def upgrade() -> None:
    op.create_table(
        "account_audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", _enum("audit_scope", *SCOPES), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_audit_events")),
        sa.UniqueConstraint(
            "scope",
            "scope_id",
            "sequence",
            name=op.f("uq_account_audit_events_scope_scope_id_sequence"),
        ),
    )
    op.create_table(
        "chain_heads",
        sa.Column("scope", _enum("chain_head_scope", *SCOPES), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("audit_sequence", sa.Integer(), nullable=False),
        sa.Column("audit_hash", sa.String(length=64), nullable=True),
        sa.Column("outbox_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_id", name=op.f("pk_chain_heads")),
    )
    op.create_table(
        "audit_events",
        *_workspace_key(),
        *_audit_columns(),
        _workspace_fk("audit_events"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint(
            "workspace_id", "sequence", name=op.f("uq_audit_events_workspace_id_sequence")
        ),
    )
    op.create_index(
        "ix_audit_events_workspace_id_occurred_at", "audit_events", ["workspace_id", "occurred_at"]
    )
    op.create_table(
        "audit_verifications",
        *_workspace_key(),
        sa.Column("verified_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_sequence", sa.Integer(), nullable=False),
        sa.Column("verified_hash", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        _workspace_fk("audit_verifications"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_audit_verifications")),
    )
    op.create_table(
        "dead_letters",
        *_workspace_key(),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("queue", sa.String(length=120), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("args", JSONDocument, nullable=False),
        sa.Column("kwargs", JSONDocument, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", UTCDateTime(timezone=True), nullable=True),
        _workspace_fk("dead_letters"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_dead_letters")),
    )
    op.create_table(
        "outbox_events",
        *_workspace_key(),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("payload", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispatch_count", sa.Integer(), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True), nullable=True),
        _workspace_fk("outbox_events"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint(
            "workspace_id", "sequence", name=op.f("uq_outbox_events_workspace_id_sequence")
        ),
    )
    op.create_index(
        "ix_outbox_events_pending", "outbox_events", ["processed_at", "workspace_id", "sequence"]
    )

    if rls.is_postgres():
        # Append-only: the application can never rewrite history.
        rls.grant_to_app("audit_events", "SELECT, INSERT")
        rls.grant_to_app("account_audit_events", "SELECT, INSERT")
        rls.grant_to_app("chain_heads", "SELECT, INSERT, UPDATE")
        for table in ("audit_verifications", "dead_letters", "outbox_events"):
            rls.grant_to_app(table)
        for table in ("audit_events", "audit_verifications", "dead_letters", "outbox_events"):
            rls.enable_workspace_rls(table)
        op.execute(
            """
            CREATE FUNCTION waypost_outbox_due_workspaces(redeliver_before timestamptz)
            RETURNS SETOF uuid
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
              SELECT DISTINCT workspace_id FROM outbox_events
              WHERE processed_at IS NULL
                AND (dispatched_at IS NULL OR dispatched_at < redeliver_before)
            $$
            """
        )
        op.execute("REVOKE ALL ON FUNCTION waypost_outbox_due_workspaces(timestamptz) FROM PUBLIC")
        op.execute(
            "GRANT EXECUTE ON FUNCTION waypost_outbox_due_workspaces(timestamptz) "
            f"TO {rls.APP_ROLE}"
        )


def downgrade() -> None:
    if rls.is_postgres():
        op.execute("DROP FUNCTION IF EXISTS waypost_outbox_due_workspaces(timestamptz)")
        for table in ("audit_events", "audit_verifications", "dead_letters", "outbox_events"):
            rls.disable_workspace_rls(table)
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_table("dead_letters")
    op.drop_table("audit_verifications")
    op.drop_index("ix_audit_events_workspace_id_occurred_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("chain_heads")
    op.drop_table("account_audit_events")
