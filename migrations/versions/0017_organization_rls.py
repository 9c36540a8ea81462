"""Row-level security on the organization-level tables (members, credentials, SSO, invitations).

Workspace tables have had it from the start; these are not workspace rows but hold a
tenant's data all the same, so the database enforces their boundary too: ENABLE +
FORCE row-level security and a ``tenant_rows`` policy each (``migrations/rls.py``
says which tenant keys open which table). Postgres only.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from migrations import rls

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not rls.is_postgres():
        return
    rls.create_organization_functions()
    for table in rls.ORGANIZATION_RULES:
        rls.enable_organization_rls(table)


def downgrade() -> None:
    if not rls.is_postgres():
        return
    for table in rls.ORGANIZATION_RULES:
        rls.disable_organization_rls(table)
    rls.drop_organization_functions()
