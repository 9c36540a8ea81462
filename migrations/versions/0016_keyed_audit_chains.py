"""Keyed audit chains, and ingestion tokens as audit actors.

Every audit event gains ``key_id``: the key its HMAC-SHA256 was computed with
(backend/crypto/audit_keys.py). Events already written carry plain SHA-256 hashes, which
anyone with the database could recompute: they get the key id "sha256", and each
chain that has any is sealed here by one keyed ``audit_chain.seal`` event linked to
its last one. The verifier accepts unkeyed events only as the start of a chain that
such a seal vouches for, so an unkeyed event forged later is refused. Sealing signs
with the key the environment's settings give (WAYPOST_AUDIT_KEY, else
WAYPOST_SECRET_KEY): run the upgrade with the application's settings.

The actor type gains INGESTION_TOKEN on both event tables.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.expression import ColumnClause

from backend.db.types import JSONDocument, UTCDateTime
from migrations import rls

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("audit_events", "account_audit_events")
LEGACY_KEY_ID = "sha256"
BEFORE = ("USER", "API_TOKEN", "SYSTEM")
AFTER = (*BEFORE, "INGESTION_TOKEN")
SUBJECTS = {"WORKSPACE": "Workspace", "ORGANIZATION": "Organization", "USER": "User"}


def _actor_type(*values: str) -> sa.Enum:
    return sa.Enum(
        *values, name="audit_actor_type", native_enum=False, create_constraint=True, length=16
    )


def _event_columns() -> list[ColumnClause[Any]]:
    return [
        sa.column("id", sa.Uuid()),
        sa.column("sequence", sa.Integer()),
        sa.column("occurred_at", UTCDateTime(timezone=True)),
        sa.column("actor_type", sa.String()),
        sa.column("action", sa.String()),
        sa.column("subject_type", sa.String()),
        sa.column("subject_id", sa.String()),
        sa.column("changes", JSONDocument),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
        sa.column("key_id", sa.String()),
    ]


def upgrade() -> None:
    for table in TABLES:
        # Every row written so far is unkeyed; new rows always name their key.
        op.add_column(
            table,
            sa.Column("key_id", sa.String(length=40), nullable=False, server_default=LEGACY_KEY_ID),
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("key_id", server_default=None, existing_type=sa.String(length=40))
            batch.alter_column(
                "actor_type",
                existing_type=_actor_type(*BEFORE),
                type_=_actor_type(*AFTER),
                existing_nullable=False,
            )
    _seal_unkeyed_chains()


def _seal_unkeyed_chains() -> None:
    # Imported here: the hashing and the key derivation are the application's own.
    from backend.audit.chain import SEAL_ACTION, event_hash
    from backend.crypto.audit_keys import AuditKeyring
    from backend.settings import get_settings

    key = AuditKeyring.from_settings(get_settings()).current
    bind = op.get_bind()
    heads = sa.table(
        "chain_heads",
        sa.column("scope", sa.String()),
        sa.column("scope_id", sa.Uuid()),
        sa.column("audit_sequence", sa.Integer()),
        sa.column("audit_hash", sa.String()),
    )
    workspace_events = sa.table(
        "audit_events", sa.column("workspace_id", sa.Uuid()), *_event_columns()
    )
    account_events = sa.table(
        "account_audit_events",
        sa.column("scope", sa.String()),
        sa.column("scope_id", sa.Uuid()),
        *_event_columns(),
    )
    chains = bind.execute(
        sa.select(heads.c.scope, heads.c.scope_id, heads.c.audit_sequence, heads.c.audit_hash)
        .where(heads.c.audit_sequence > 0)
        .order_by(heads.c.scope, heads.c.scope_id)
    ).all()
    now = datetime.now(UTC)
    for scope, scope_id, sequence, last_hash in chains:
        seal = SimpleNamespace(
            sequence=sequence + 1,
            occurred_at=now,
            actor_type="SYSTEM",
            actor_user_id=None,
            actor_token_id=None,
            action=SEAL_ACTION,
            subject_type=SUBJECTS[scope],
            subject_id=str(scope_id),
            changes={"key_id": {"before": LEGACY_KEY_ID, "after": key.id}},
            request_id=None,
            ip=None,
            user_agent=None,
            prev_hash=last_hash,
            key_id=key.id,
        )
        seal.hash = event_hash(scope, scope_id, seal, key)
        values = {
            name: getattr(seal, name)
            for name in (
                "sequence",
                "occurred_at",
                "actor_type",
                "action",
                "subject_type",
                "subject_id",
                "changes",
                "prev_hash",
                "hash",
                "key_id",
            )
        }
        if scope == "WORKSPACE":
            _bind_workspace(scope_id)
            bind.execute(
                workspace_events.insert().values(workspace_id=scope_id, id=uuid4(), **values)
            )
        else:
            bind.execute(
                account_events.insert().values(scope=scope, scope_id=scope_id, id=uuid4(), **values)
            )
        bind.execute(
            heads.update()
            .where(heads.c.scope == scope, heads.c.scope_id == scope_id)
            .values(audit_sequence=seal.sequence, audit_hash=seal.hash)
        )


def _bind_workspace(workspace_id: UUID) -> None:
    # audit_events has FORCE row-level security: its owner, too, writes only into the
    # workspace bound to the transaction.
    if rls.is_postgres():
        op.get_bind().execute(
            sa.text("select set_config('waypost.workspace_ids', :ws, true)"),
            {"ws": str(workspace_id)},
        )


def downgrade() -> None:
    # Keyed chains do not verify under the unkeyed scheme: a downgrade keeps the events
    # but not their keys. Ingestion tokens become SYSTEM actors again.
    for table in TABLES:
        op.execute(f"UPDATE {table} SET actor_type = 'SYSTEM' WHERE actor_type = 'INGESTION_TOKEN'")
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "actor_type",
                existing_type=_actor_type(*AFTER),
                type_=_actor_type(*BEFORE),
                existing_nullable=False,
            )
            batch.drop_column("key_id")
