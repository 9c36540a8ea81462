"""Account linking: domains an organization proves it owns, and tokens that stay in one.

``organization_domains`` holds each claimed email domain with the random value its DNS
TXT record must carry; a domain is verified by at most one organization (a partial
unique index). ``api_tokens.restricted_organization_id`` keeps a token minted through
an organization's session inside that organization. ``users.email_verified_at`` says when
someone first showed they control the account's address; ``sso_login_attempts.linking_user_id``
marks a sign-in a signed-in person started to link their account.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import UTCDateTime
from migrations import rls

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization_domains",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("verification_token", sa.String(length=64), nullable=False),
        sa.Column("verified_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_domains_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_domains")),
        sa.UniqueConstraint(
            "organization_id", "domain", name=op.f("uq_organization_domains_organization_id_domain")
        ),
    )
    op.create_index(
        op.f("ix_organization_domains_organization_id"),
        "organization_domains",
        ["organization_id"],
    )
    op.create_index(
        "uq_organization_domains_verified_domain",
        "organization_domains",
        ["domain"],
        unique=True,
        sqlite_where=sa.text("verified_at IS NOT NULL"),
        postgresql_where=sa.text("verified_at IS NOT NULL"),
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("restricted_organization_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_api_tokens_restricted_organization_id_organizations"),
            "organizations",
            ["restricted_organization_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            op.f("ix_api_tokens_restricted_organization_id"), ["restricted_organization_id"]
        )
    with op.batch_alter_table("sso_login_attempts") as batch:
        batch.add_column(sa.Column("linking_user_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_sso_login_attempts_linking_user_id_users"),
            "users",
            ["linking_user_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_verified_at", UTCDateTime(timezone=True), nullable=True))
    if rls.is_postgres():
        rls.grant_to_app("organization_domains")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified_at")
    with op.batch_alter_table("sso_login_attempts") as batch:
        batch.drop_constraint(
            op.f("fk_sso_login_attempts_linking_user_id_users"), type_="foreignkey"
        )
        batch.drop_column("linking_user_id")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index(op.f("ix_api_tokens_restricted_organization_id"))
        batch.drop_constraint(
            op.f("fk_api_tokens_restricted_organization_id_organizations"), type_="foreignkey"
        )
        batch.drop_column("restricted_organization_id")
    op.drop_table("organization_domains")
