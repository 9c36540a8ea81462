"""Postgres row-level security helpers shared by every migration.

Each workspace table gets ENABLE + FORCE row-level security and a policy keyed
on the per-transaction setting that backend.db.scoping binds. The application
runs as ``waypost_app``: no table owner, no superuser, no BYPASSRLS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op

APP_ROLE = "waypost_app"
DML = "SELECT, INSERT, UPDATE, DELETE"
# A workspace row's rule. The sub-select makes Postgres compute the bound array once per
# statement (an InitPlan); the function alone is inlined and re-parsed for every row a
# scan filters. The cast keeps ANY reading an array, not the sub-select's rows.
WORKSPACE_RULE = "workspace_id = ANY ((SELECT waypost_bound_workspaces())::uuid[])"


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_app_role_and_functions() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    # A committed set_config(..., true) leaves '' behind, not NULL: both mean "none".
    op.execute(
        """
        CREATE FUNCTION waypost_bound_workspaces() RETURNS uuid[]
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT coalesce(
            string_to_array(
              nullif(current_setting('waypost.workspace_ids', true), ''), ','
            )::uuid[],
            '{}'::uuid[])
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION waypost_bound_user() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT nullif(current_setting('waypost.user_id', true), '')::uuid
        $$
        """
    )


def drop_app_functions() -> None:
    op.execute("DROP FUNCTION IF EXISTS waypost_bound_workspaces()")
    op.execute("DROP FUNCTION IF EXISTS waypost_bound_user()")
    # The role is cluster-wide and may serve other databases: it stays.


@contextmanager
def across_workspaces(table: str) -> Iterator[None]:
    """A data migration's statements on ``table`` see every workspace's rows.

    Row-level security is forced on the owner too, and a migration binds no workspace:
    without this an UPDATE touches no row at all. Transactional, like the migration.
    """
    if not is_postgres():
        yield
        return
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    yield
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def grant_to_app(table: str, privileges: str = DML) -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")


def enable_workspace_rls(table: str, *, own_rows_column: str | None = None) -> None:
    """Isolate ``table`` by workspace; optionally let a user read their own rows too.

    ``own_rows_column`` serves memberships: the caller's workspaces are computed
    from them, so they must be readable before any workspace is bound.
    """
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"""
        CREATE POLICY workspace_isolation ON {table}
          USING ({WORKSPACE_RULE}) WITH CHECK ({WORKSPACE_RULE})
        """
    )
    if own_rows_column:
        op.execute(
            f"""
            CREATE POLICY own_rows ON {table} FOR SELECT
              USING ({own_rows_column} = waypost_bound_user())
            """
        )


def disable_workspace_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS own_rows ON {table}")
    op.execute(f"DROP POLICY IF EXISTS workspace_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


# -- Organization-level tables ------------------------------------------------------------
#
# Tables that are not workspace rows but hold a tenant's data: each gets ENABLE + FORCE
# row-level security and one policy, ``tenant_rows``, whose rule is what its tenant keys
# allow (ORGANIZATION_RULES). Settings bound per transaction by backend.db.scoping:
# waypost.organization_ids (organizations the caller sees), waypost.account_id
# (the signed-in user: own credentials) and waypost.secret_hash (the SHA-256 of a secret
# being presented: a token, a session cookie, an invitation link, an SSO login's state,
# or the issuer and subject an identity provider has just vouched for).


def create_organization_functions() -> None:
    op.execute(
        """
        CREATE FUNCTION waypost_bound_organizations() RETURNS uuid[]
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT coalesce(
            string_to_array(
              nullif(current_setting('waypost.organization_ids', true), ''), ','
            )::uuid[],
            '{}'::uuid[])
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION waypost_bound_account() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT nullif(current_setting('waypost.account_id', true), '')::uuid
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION waypost_bound_secret_hash() RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT nullif(current_setting('waypost.secret_hash', true), '')
        $$
        """
    )
    # The same digest as backend.auth.tokens.hash_secret, for secrets stored as is.
    op.execute(
        """
        CREATE FUNCTION waypost_secret_hash(secret text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT encode(sha256(convert_to(secret, 'UTF8')), 'hex')
        $$
        """
    )


def drop_organization_functions() -> None:
    for function in (
        "waypost_bound_organizations()",
        "waypost_bound_account()",
        "waypost_bound_secret_hash()",
        "waypost_secret_hash(text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")


_ORGS = "waypost_bound_organizations()"
_WORKSPACES = "waypost_bound_workspaces()"
_OWN = "user_id IN (waypost_bound_account(), waypost_bound_user())"
_PRESENTED = "waypost_bound_secret_hash()"

ORGANIZATION_RULES: dict[str, str] = {
    # Members of the organization; a user's own memberships are readable while their
    # access is computed (own_rows, as for workspace memberships).
    "organization_memberships": f"organization_id = ANY ({_ORGS})",
    # Its organization's; the one named by the login attempt whose state comes back
    # (the attempts this sub-select sees are only that one: their own policy). It reads
    # the attempts table, which is kept short (attempts expire), once per statement.
    "sso_connections": (
        f"organization_id = ANY ({_ORGS}) OR id IN (SELECT connection_id FROM sso_login_attempts)"
    ),
    # An invitation belongs to its organization and, for a guest, its workspace; the
    # link's holder reaches the one it names.
    "invitations": (
        f"organization_id = ANY ({_ORGS}) OR target_workspace_id = ANY ({_WORKSPACES})"
        f" OR secret_hash = {_PRESENTED}"
    ),
    # A user's own; the organization's (removal ends them); the presented cookie's.
    "user_sessions": (f"{_OWN} OR organization_id = ANY ({_ORGS}) OR secret_hash = {_PRESENTED}"),
    # A user's own; those limited to a bound workspace (removal revokes them); the
    # presented token's.
    "api_tokens": (
        f"{_OWN} OR restricted_workspace_id = ANY ({_WORKSPACES}) OR secret_hash = {_PRESENTED}"
    ),
    "ingestion_tokens": (
        f"ingest_workspace_id = ANY ({_WORKSPACES}) OR secret_hash = {_PRESENTED}"
    ),
    # A user's own; the one the provider has just vouched for (issuer and subject).
    "user_identities": (f"{_OWN} OR waypost_secret_hash(issuer || ' ' || subject) = {_PRESENTED}"),
    # Only the one whose state comes back from the provider (or is being stored); and, to
    # the housekeeping that deletes them, those expired before the moment it names.
    "sso_login_attempts": (
        f"waypost_secret_hash(state) = {_PRESENTED} OR created_at < coalesce("
        "nullif(current_setting('waypost.prune_before', true), '')::timestamptz, '-infinity')"
    ),
    # The domains an organization claims: its own. Which organization verified a domain
    # is never read across organizations: the unique index keeps a second one out.
    "organization_domains": f"organization_id = ANY ({_ORGS})",
}


def enable_organization_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    rule = ORGANIZATION_RULES[table]
    op.execute(f"CREATE POLICY tenant_rows ON {table} USING ({rule}) WITH CHECK ({rule})")
    if table == "organization_memberships":
        op.execute(
            f"""
            CREATE POLICY own_rows ON {table} FOR SELECT
              USING (user_id = waypost_bound_user())
            """
        )
        # The organization's OWNERs and ADMINs act as ADMIN in each of its workspaces:
        # a bound workspace may read who they are (e.g. who may own an initiative).
        op.execute(
            f"""
            CREATE POLICY workspace_admins ON {table} FOR SELECT
              USING (
                role::text IN ('OWNER', 'ADMIN')
                AND organization_id IN (
                  SELECT organization_id FROM workspaces
                  WHERE id = ANY (waypost_bound_workspaces())
                )
              )
            """
        )


def disable_organization_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS workspace_admins ON {table}")
    op.execute(f"DROP POLICY IF EXISTS own_rows ON {table}")
    op.execute(f"DROP POLICY IF EXISTS tenant_rows ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
